"""Link extraction from good, bad and hostile pages."""

from __future__ import annotations

import codecs
import random

from core.links import extract_links

BASE = "http://site.test/dir/page.html"


def test_links_are_resolved_normalised_and_deduplicated_in_page_order() -> None:
    body = b"""<!doctype html><html><body>
    <a href="/b">b</a> <a href="a">a</a> <A HREF="/b#again">b again</A>
    <a href="HTTP://OTHER.test:80/x">offsite</a> <a>no href</a> <link href="/style.css">
    <a href="javascript:void(0)">js</a> <a href="mailto:x@y.z">mail</a>
    <a href="data:text/html,hi">data</a> <a href="../../../../up">up</a>
    </body></html>"""
    links = extract_links(body, BASE)
    assert links == [
        "http://site.test/b",
        "http://site.test/dir/a",
        "http://other.test/x",
        "http://site.test/up",
    ]
    assert links.rejected == 3
    assert links.cut == 0


def test_base_href_is_honoured() -> None:
    body = b'<html><head><BASE HREF="http://cdn.test/root/"></head><a href="x">x</a></html>'
    assert extract_links(body, BASE) == ["http://cdn.test/root/x"]
    bad_base = b'<base href="javascript:0"><a href="x">x</a>'
    assert extract_links(bad_base, BASE) == ["http://site.test/dir/x"]


def test_malformed_html_still_yields_its_links() -> None:
    body = b"<a href=/one><b><i><a href='/two'</i><table><a href=\"/three\"><tr><td><a href=/four"
    assert set(extract_links(body, BASE)) >= {"http://site.test/one", "http://site.test/three"}


def test_binary_junk_and_invalid_utf8_do_not_break_parsing() -> None:
    noise = random.Random(5).randbytes(100_000)
    assert extract_links(noise, BASE) is not None  # any bytes at all: no exception
    junk = noise.replace(b"<", b"") + b'<a href="/found">x</a>' + b"\x00\xff\xfe"
    assert "http://site.test/found" in extract_links(junk, BASE)
    bad = b'<meta charset="utf-8"><a href="/caf\xe9">\xc3\x28</a><a href="/ok">ok</a>'
    links = extract_links(bad, BASE)
    assert "http://site.test/ok" in links
    assert "http://site.test/caf%EF%BF%BD" in links  # the bad byte became U+FFFD
    assert extract_links(b"", BASE) == []


def test_declared_encoding_is_used_and_unknown_ones_ignored() -> None:
    body = '<a href="/é">x</a>'.encode("latin-1")
    assert extract_links(body, BASE, encoding="latin-1") == ["http://site.test/%C3%A9"]
    assert extract_links(body, BASE, encoding="no-such-charset") == ["http://site.test/%EF%BF%BD"]


def test_a_bom_or_an_impossible_utf16_label_overrides_the_header() -> None:
    body = '<a href="/é">x</a>'.encode("cp1252")
    assert extract_links(body, BASE, encoding="utf-16") == ["http://site.test/%EF%BF%BD"]
    bom = codecs.BOM_UTF8 + '<a href="/é">x</a>'.encode()
    assert extract_links(bom, BASE, encoding="latin-1") == ["http://site.test/%C3%A9"]
    real = '<a href="/é">x</a>'.encode("utf-16-le")
    assert extract_links(real, BASE, encoding="utf-16-le") == ["http://site.test/%C3%A9"]


def test_100k_deep_nesting_is_handled() -> None:
    depth = 100_000
    inner = b'<a href="/deep">deep</a>'
    closed = b"<div>" * depth + inner + b"</div>" * depth
    assert extract_links(closed, BASE) == ["http://site.test/deep"]
    unclosed = b"<div><span>" * depth + b'<a href="/d?a=1&amp;b=2">d</a>'
    assert extract_links(unclosed, BASE) == ["http://site.test/d?a=1&b=2"]


def test_a_million_links_are_capped_and_counted() -> None:
    body = b"".join(b'<a href="/p/%d">' % i for i in range(1_000_000))
    links = extract_links(body, BASE, max_links=1000)
    assert len(links) == 1000
    assert links[0] == "http://site.test/p/0"
    assert links.cut == 999_000
    closed = b"".join(b'<a href="/q/%d">%d</a>\n' % (i, i) for i in range(30_000))
    links = extract_links(closed, BASE, max_links=500)
    assert len(links) == 500
    assert links.cut == 29_500


def test_the_cap_counts_a_tags_only_and_cuts_exactly_past_it() -> None:
    filler = b"<p>no link here</p>" * 6000  # 12 000 tags, more than both guards' limits
    at_cap = b"".join(b'<a href="/c/%d">%d</a>' % (i, i) for i in range(50))
    links = extract_links(filler + at_cap + filler, BASE, max_links=50)
    assert links == [f"http://site.test/c/{i}" for i in range(50)]
    assert links.cut == 0
    over = extract_links(filler + at_cap + b'<a href="/c/50">50</a>' + filler, BASE, max_links=50)
    assert over == links
    assert over.cut == 1


def test_many_closed_tags_are_still_parsed_as_html() -> None:
    body = b"<div><p>x</p></div>" * 5000 + b'<!-- <a href="/commented"> --><a href="/real">r</a>'
    assert extract_links(body, BASE) == ["http://site.test/real"]


def test_unterminated_tags_cost_bounded_work() -> None:
    body = b"<a <a " * 300_000 + b'<a href="/late">'
    links = extract_links(body, BASE, max_links=100)
    assert links == []
    assert links.cut > 0


def test_long_urls_are_rejected() -> None:
    body = b'<a href="/' + b"a" * 100 * 1024 + b'">long</a><a href="/short">s</a>'
    links = extract_links(body, BASE)
    assert links == ["http://site.test/short"]
    assert links.rejected == 1

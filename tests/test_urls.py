"""URL normalisation: the identity the crawl dedupes on."""

from __future__ import annotations

import subprocess
import sys

import pytest

from core.urls import MAX_URL_LENGTH, _normalize_slow, fingerprint, normalize

BASE = "http://Example.COM:80/a/b/page.html?q=1#top"


@pytest.mark.parametrize(
    ("href", "expected"),
    [
        ("/x/y", "http://example.com/x/y"),
        ("sibling", "http://example.com/a/b/sibling"),
        ("sub/dir/", "http://example.com/a/b/sub/dir/"),
        ("?k=v", "http://example.com/a/b/page.html?k=v"),
        ("", "http://example.com/a/b/page.html?q=1"),
        ("#only-a-fragment", "http://example.com/a/b/page.html?q=1"),
        ("/x#frag", "http://example.com/x"),
        ("//Other.ORG/p", "http://other.org/p"),
        ("../../../../../etc", "http://example.com/etc"),
        ("./c/./d/../e", "http://example.com/a/b/c/e"),
        ("/a/..", "http://example.com/"),
        ("  \n/padded\t", "http://example.com/padded"),
    ],
)
def test_relative_links_resolve_against_the_base(href: str, expected: str) -> None:
    assert normalize(href, BASE) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTP://WWW.Example.COM/Path", "http://www.example.com/Path"),
        ("http://h:80/x", "http://h/x"),
        ("https://h:443", "https://h/"),
        ("https://h:8443/x", "https://h:8443/x"),
        ("http://h:080/x", "http://h/x"),
        ("http://h/x?", "http://h/x"),
        ("http://[::1]:8080/x", "http://[::1]:8080/x"),
        ("http://user:pw@H/x", "http://user:pw@h/x"),
    ],
)
def test_scheme_host_and_port_are_canonical(url: str, expected: str) -> None:
    assert normalize(url) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://h/%7euser/%41", "http://h/~user/A"),  # unreserved escapes decoded
        ("http://h/a%2fb%3a", "http://h/a%2Fb%3A"),  # reserved escapes kept, upper-cased
        ("http://h/a b", "http://h/a%20b"),
        ("http://h/€?q=é", "http://h/%E2%82%AC?q=%C3%A9"),
        ("http://h/100%", "http://h/100%25"),
        ("http://h/%zz", "http://h/%25zz"),
        ("http://h/x?a=%e2%82%ac&b", "http://h/x?a=%E2%82%AC&b"),
    ],
)
def test_percent_encoding_is_consistent(url: str, expected: str) -> None:
    assert normalize(url) == expected
    assert normalize(expected) == expected  # idempotent


def test_idn_hosts_become_punycode() -> None:
    assert normalize("http://Bücher.example/ü") == "http://xn--bcher-kva.example/%C3%BC"
    assert normalize("http://xn--bcher-kva.example/") == "http://xn--bcher-kva.example/"


@pytest.mark.parametrize(
    "href",
    [
        "javascript:alert(1)",
        "JavaScript:void(0)",
        "mailto:someone@example.com",
        "data:text/html,<a href=/x>",
        "file:///etc/passwd",
        "ftp://example.com/",
        "tel:+100",
        "http://h:99999/",
        "http://bad host/",
        "http://h:port/",
    ],
)
def test_uncrawlable_urls_are_refused(href: str) -> None:
    assert normalize(href, BASE) is None
    assert normalize(href) is None


def test_absolute_urls_without_a_host_are_refused() -> None:
    assert normalize("http://") is None
    assert normalize("https:///path") is None


def test_overlong_urls_are_refused() -> None:
    long_path = "/" + "a" * (MAX_URL_LENGTH + 10)
    assert normalize(long_path, BASE) is None
    assert normalize("http://h/" + "a" * 100 * 1024) is None
    assert normalize("/" + "a" * 50, BASE, max_length=40) is None
    assert normalize("/" + "a" * 10, BASE, max_length=40) == "http://example.com/" + "a" * 10


def test_links_differing_only_by_fragment_or_host_case_are_equal() -> None:
    variants = ["HTTP://EXAMPLE.com/p#a", "http://example.com:80/p#b", "/p", "../p#c"]
    assert {normalize(v, "http://example.com/q/") for v in variants} == {"http://example.com/p"}


def test_fast_and_full_paths_agree() -> None:
    for href in ["/x/y?z=1", "page/2", "http://h/x", "http://h:8080/x?y"]:
        fast = normalize(href, "http://h/dir/")
        full = normalize(href + "%7e", "http://h/dir/")  # forces the full path
        assert full == fast + "~"


_BASES = [
    "http://h/",
    "http://h/page/5",
    "http://h/a/b/",
    "http://h/a/b/c?q=1",
    "HTTP://H.Example:80/a/b",
    "https://h:8443/x/y/z",
    "https://u:p@H:8443/a/b/c#f",
    "http://[::1]:8080/x/y",
    "http://h?q=/a/b",
    "HTTP://H/a/./b/../c/d?x=/y",
]
_HREFS = [
    "x", "x/", "x/y?z", "/x", "/x?y=1&z", "./", "./x", "./x/y/", "../", "../x", "../../x",
    "../../../../x", "./../x", ".././x", "././x", ".//x", "../.", "./.x", ".x", "..x", ".", "..",
    "./x/../y", "../x/./y", "./?q", "./x#f", "../#f", "x:y", "./x:y", "../a%7eb",
    "HTTP://H/x", "Http://h.EXAMPLE/a/b", "HTTPS://H:443/x", "HTTP://H:8080", "http://H:99999/",
    "http://h/./x", "http://h/a/../x", "HTTP://H/a b", "hTtP://h/X?Y=Z",
]  # fmt: skip


@pytest.mark.parametrize("base", _BASES)
def test_fast_path_gives_what_the_full_path_gives(base: str) -> None:
    """Every href, with and without the fast path (``_normalize_slow`` is the reference)."""
    for href in _HREFS:
        assert normalize(href, base) == _normalize_slow(href, base, MAX_URL_LENGTH), href
        assert normalize(href) == _normalize_slow(href, None, MAX_URL_LENGTH), href


def test_fingerprint_is_64_bit_and_stable_across_processes() -> None:
    url = "http://example.com/page/1"
    fp = fingerprint(url)
    assert 0 <= fp < 2**64
    assert fp != fingerprint("http://example.com/page/2")
    code = f"from core.urls import fingerprint; print(fingerprint({url!r}))"
    other = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30
    )
    assert int(other.stdout) == fp

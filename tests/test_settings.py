import pytest

from core.settings import CrawlSettings, SettingsError


def test_defaults_scope_to_the_start_hosts():
    s = CrawlSettings(start_urls=("http://Example.com:8080/a", "https://other.org/"))
    assert s.allowed_hosts == ("example.com", "other.org")


def test_a_single_url_string_is_accepted():
    assert CrawlSettings(start_urls="http://127.0.0.1/").start_urls == ("http://127.0.0.1/",)


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"threads": 0}, "threads", "from 1 to 1024"),
        ({"threads": 2.5}, "threads", "whole number"),
        ({"max_depth": -1}, "max_depth", "0 or more"),
        ({"max_pages": 0}, "max_pages", "1 or more"),
        ({"frontier_size": 0}, "frontier_size", "1 or more"),
        ({"read_timeout": 0}, "read_timeout", "above 0"),
        ({"deadline": -3}, "deadline", "above 0"),
        ({"host_delay": -1}, "host_delay", "0 or more"),
        ({"start_urls": ()}, "start_urls", "at least one"),
        ({"start_urls": ("ftp://example.com/",)}, "start_urls", "only http and https"),
        ({"start_urls": ("example.com",)}, "start_urls", "only http and https"),
        ({"start_urls": ("http://",)}, "start_urls", "no host"),
        ({"start_urls": ("http://h:99999/",)}, "start_urls", "cannot parse"),
        ({"memory_limit_mb": 100, "memory_warning_mb": 200}, "memory_warning_mb", "above"),
    ],
)
def test_bad_values_name_the_field_and_what_is_allowed(changes, field, words):
    base = {"start_urls": ("http://127.0.0.1/",)}
    with pytest.raises(SettingsError) as info:
        CrawlSettings(**{**base, **changes})
    assert info.value.field == field
    assert words in str(info.value)
    assert str(info.value).startswith(field)


def test_replace_validates_again():
    s = CrawlSettings(start_urls=("http://127.0.0.1/",))
    assert s.replace(threads=4).threads == 4
    with pytest.raises(SettingsError):
        s.replace(threads=-4)


def test_replacing_start_urls_rederives_the_scope():
    s = CrawlSettings(start_urls=("http://a.test/",)).replace(start_urls=("http://b.test/",))
    assert s.allowed_hosts == ("b.test",)

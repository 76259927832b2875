import argparse
import dataclasses
import re
from pathlib import Path

import pytest

from core.crawl_cli import settings_from
from core.settings import SETTINGS, CrawlSettings, Kind
from core.settings_error import SettingsError


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


# -- every field described once: the form, the CLI and the settings agree ---------------------

FORM_KINDS = {Kind.INT, Kind.FLOAT, Kind.BOOL, Kind.CHOICE, Kind.TEXT}


def crawl_parser():
    from core.cli import build_parser

    parser = build_parser(["crawl"])
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return commands.choices["crawl"]


def test_every_field_is_described_with_a_flag_and_a_group_or_a_reason():
    assert list(SETTINGS) == [f.name for f in dataclasses.fields(CrawlSettings)]
    flags = [s.flag for s in SETTINGS.values()]
    assert len(flags) == len(set(flags)), "two fields share a flag"
    for spec in SETTINGS.values():
        assert spec.label, spec.name
        assert 0 < len(spec.summary) < 110, spec.name
        if spec.flag is None or spec.group is None or spec.kind not in FORM_KINDS:
            assert spec.only, f"{spec.name} is CLI-only or form-only without saying why"
        if spec.minimum is not None and spec.kind in (Kind.INT, Kind.FLOAT):
            assert spec.default >= spec.minimum, spec.name
        if spec.maximum is not None:
            assert spec.default <= spec.maximum, spec.name


@pytest.mark.parametrize("name", [n for n, s in SETTINGS.items() if s.minimum is not None])
def test_each_described_range_is_what_validation_enforces(name):
    spec = SETTINGS[name]
    base = {"start_urls": ("http://127.0.0.1/",)}
    step = 1 if spec.kind is Kind.INT else 0.5
    edge = spec.minimum if spec.kind is Kind.INT or not spec.above else spec.minimum + step
    CrawlSettings(**base, **{name: edge})
    below = spec.minimum if spec.above else spec.minimum - step
    with pytest.raises(SettingsError) as info:
        CrawlSettings(**base, **{name: below})
    assert info.value.field == name
    assert spec.bounds().split()[0] in info.value.message
    if spec.maximum is not None:
        CrawlSettings(**base, **{name: spec.maximum})
        with pytest.raises(SettingsError):
            CrawlSettings(**base, **{name: spec.maximum + step})


def test_cli_flags_have_the_settings_defaults_and_make_the_default_settings():
    parser = crawl_parser()
    by_dest = {a.dest: a for a in parser._actions}
    for spec in SETTINGS.values():
        if spec.flag is None or not spec.flag.startswith("--"):
            continue
        action = by_dest[spec.name]
        assert spec.flag in action.option_strings, spec.name
        if spec.kind not in (Kind.TEXTS, Kind.PATH):
            assert action.default == spec.default, spec.name
        assert list(action.choices or ()) == list(spec.choices), spec.name
    args = parser.parse_args([])
    assert settings_from(args, "http://127.0.0.1/") == CrawlSettings("http://127.0.0.1/")


def test_cli_timeout_defaults_are_the_settings_own_and_timeout_still_sets_both():
    """The drift of issue 10: --timeout defaulted to the read timeout for connecting too."""
    parser = crawl_parser()
    plain = settings_from(parser.parse_args([]), "http://127.0.0.1/")
    assert (plain.connect_timeout, plain.read_timeout) == (5.0, 10.0)
    both = settings_from(parser.parse_args(["--timeout", "3"]), "http://127.0.0.1/")
    assert (both.connect_timeout, both.read_timeout) == (3.0, 3.0)
    one = settings_from(parser.parse_args(["--connect-timeout", "2"]), "http://127.0.0.1/")
    assert (one.connect_timeout, one.read_timeout) == (2.0, 10.0)
    robots = settings_from(parser.parse_args(["--no-robots"]), "http://127.0.0.1/")
    assert robots.obey_robots is False


def test_form_widgets_have_the_settings_defaults_ranges_and_tooltips(qtbot):
    from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QLineEdit, QSpinBox

    from gui.controls import INT_CEILING, ControlPanel

    panel = ControlPanel()
    qtbot.addWidget(panel)
    widgets = {**panel.fields, **panel.choices, **panel.texts, "obey_robots": panel.obey_robots}
    widgets["pin_workers"] = panel.pin_workers
    for spec in SETTINGS.values():
        if spec.group is None or spec.kind not in FORM_KINDS:
            continue
        widget = widgets.pop(spec.name)
        assert widget.toolTip() == spec.help or spec.name in ("strategy", "pin_workers")
        if isinstance(widget, QSpinBox | QDoubleSpinBox):
            assert widget.value() * spec.form_scale == spec.default, spec.name
            low = spec.minimum if spec.minimum is not None else 0
            if isinstance(widget, QSpinBox):  # one step past each bound, to show the error
                assert widget.minimum() == low // spec.form_scale - 1, spec.name
                high = INT_CEILING if spec.maximum is None else spec.maximum + 1
                assert widget.maximum() == high, spec.name
            else:
                assert widget.minimum() == low, spec.name
                if spec.maximum is not None:
                    assert widget.maximum() == spec.maximum, spec.name
        elif isinstance(widget, QComboBox):
            assert [widget.itemText(i) for i in range(widget.count())] == list(spec.choices)
            assert widget.currentText() == spec.default
        elif isinstance(widget, QCheckBox) and widget.isEnabled():
            assert widget.isChecked() == spec.default
            assert widget.text() == spec.label
        elif isinstance(widget, QLineEdit):
            assert widget.text() == spec.default
    assert widgets == {}, "a widget with no setting behind it"
    assert panel.settings() == CrawlSettings(
        "http://127.0.0.1/", pin_workers=panel.pin_workers.isChecked()
    )


def test_an_error_in_a_folded_group_opens_it(qtbot):
    from gui.controls import ControlPanel

    panel = ControlPanel()
    qtbot.addWidget(panel)
    panel.show()
    assert not panel.advanced.isVisible()
    panel.fields["retries"].setValue(21)
    assert panel.error is not None
    assert panel.error.field == "retries"
    assert panel.advanced.isVisible()
    assert panel.error_label("retries").isVisible()


def readme_rows() -> dict[str, list[str]]:
    text = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    table = text.split("\n| field | default |", 1)[1].split("\n\n")[0]
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in table.splitlines()]
    return {row[0].strip("`"): row for row in rows[2:]}  # after the header and |---|


def readme_default(cell: str) -> object:
    """ "250 000" -> 250000, "5 s" -> 5.0, "2 MiB" -> 2097152, "on" -> True, "`x`" -> "x"."""
    if cell in ("on", "off"):
        return cell == "on"
    if cell.startswith("`"):
        return cell.strip("`")
    match = re.match(r"([\d ]+(?:\.\d+)?)\s*(MiB|s)?", cell)
    assert match, cell
    number = float(match.group(1).replace(" ", ""))
    return number * 1024 * 1024 if match.group(2) == "MiB" else number


def test_the_readme_table_lists_every_field_with_its_default_flag_and_form_label():
    rows = readme_rows()
    assert set(rows) == set(SETTINGS)
    for name, (_field, default, _what, cli, window) in rows.items():
        spec = SETTINGS[name]
        assert f"`{spec.flag}" in cli, (name, cli)
        if spec.group is None:
            assert window == "—", name
        else:
            assert spec.label in window, (name, window)
        if spec.kind in (Kind.INT, Kind.FLOAT, Kind.BOOL, Kind.CHOICE, Kind.TEXT):
            assert readme_default(default) == spec.default, (name, default)

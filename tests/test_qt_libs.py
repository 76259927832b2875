"""The check before Qt starts: real dlopen of real sonames, and the list qt-deps.sh reads."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from gui import qt_libs

ROOT = Path(__file__).resolve().parent.parent


def test_a_library_the_loader_cannot_find_names_its_package_in_one_apt_line():
    wanted = {"libegl1": "libEGL.so.1", "libthreadscope-nope0": "libthreadscope-nope.so.0"}
    lacking = qt_libs.missing(wanted)
    assert lacking == ["libthreadscope-nope0"]
    assert qt_libs.apt_line(lacking) == "sudo apt-get install -y libthreadscope-nope0"


def test_which_list_applies_follows_the_platform_qt_will_pick():
    assert qt_libs.platform_mode({}) == "window"  # Linux default: xcb
    assert qt_libs.platform_mode({"QT_QPA_PLATFORM": "xcb"}) == "window"
    assert qt_libs.platform_mode({"QT_QPA_PLATFORM": "offscreen"}) == "offscreen"
    assert qt_libs.platform_mode({"WAYLAND_DISPLAY": "wayland-0"}) is None
    assert qt_libs.platform_mode({"QT_QPA_PLATFORM": "vnc"}) is None
    assert set(qt_libs.packages("offscreen")) < set(qt_libs.packages("window"))


def test_the_shell_script_reads_the_same_list():
    out = subprocess.run(
        [sys.executable, str(ROOT / "gui" / "qt_libs.py"), "packages", "window"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert out == list(qt_libs.packages("window"))
    script = (ROOT / "scripts" / "qt-deps.sh").read_text()
    assert 'gui/qt_libs.py" packages' in script
    assert "libxcb-cursor0" not in script


def test_check_here_agrees_with_what_the_loader_finds():
    env = {"QT_QPA_PLATFORM": "offscreen"}
    lacking = qt_libs.missing(qt_libs.packages("offscreen"))
    message = qt_libs.check(env)
    if lacking:
        assert message is not None
        assert message.endswith(qt_libs.apt_line(lacking))
    else:
        assert message is None  # the suite runs offscreen, so this is the usual case

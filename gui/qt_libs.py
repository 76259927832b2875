"""The system libraries Qt's wheels need on Linux, and a check that runs before Qt can abort.

Without them Qt prints its own message and aborts the process ("Could not load the Qt
platform plugin xcb", naming a library that may well be present). The launcher checks first:
each library is loaded by its soname with ``ctypes`` (what Qt's plugin will ask the dynamic
loader for), and for the missing ones it prints the one ``apt-get install`` line that
``make run`` would run. ``scripts/qt-deps.sh`` reads its package lists from here (run this
file as ``python3 gui/qt_libs.py packages window``), so there is one list.

Standard library only, no project imports: it runs before the venv's packages matter.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Mapping

# Debian package -> the soname Qt loads from it. "offscreen" is what any platform needs
# (the tests run offscreen); "window" adds the xcb platform plugin's libraries.
OFFSCREEN: Mapping[str, str] = {
    "libegl1": "libEGL.so.1",
    "libgl1": "libGL.so.1",
    "libfontconfig1": "libfontconfig.so.1",
    "libfreetype6": "libfreetype.so.6",
    "libxkbcommon0": "libxkbcommon.so.0",
    "libglib2.0-0": "libglib-2.0.so.0",
    "libdbus-1-3": "libdbus-1.so.3",
}
XCB: Mapping[str, str] = {
    "libxcb-cursor0": "libxcb-cursor.so.0",
    "libxcb-icccm4": "libxcb-icccm.so.4",
    "libxcb-keysyms1": "libxcb-keysyms.so.1",
    "libxcb-image0": "libxcb-image.so.0",
    "libxcb-render-util0": "libxcb-render-util.so.0",
    "libxcb-randr0": "libxcb-randr.so.0",
    "libxcb-shape0": "libxcb-shape.so.0",
    "libxcb-xfixes0": "libxcb-xfixes.so.0",
    "libxcb-xkb1": "libxcb-xkb.so.1",
    "libxkbcommon-x11-0": "libxkbcommon-x11.so.0",
    "libx11-xcb1": "libX11-xcb.so.1",
}
MODES = ("offscreen", "window")


def packages(mode: str) -> dict[str, str]:
    """Package -> soname for ``mode`` ("offscreen" or "window")."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    return {**OFFSCREEN, **(XCB if mode == "window" else {})}


def can_load(soname: str) -> bool:
    try:
        ctypes.CDLL(soname)
    except OSError:
        return False
    return True


def missing(wanted: Mapping[str, str]) -> list[str]:
    """The packages (of package -> soname) whose library the dynamic loader cannot find."""
    return [package for package, soname in wanted.items() if not can_load(soname)]


def platform_mode(environ: Mapping[str, str] = os.environ) -> str | None:
    """Which list Qt will need here: "window" for xcb (the Linux default without a
    ``QT_QPA_PLATFORM``), "offscreen" for offscreen/minimal, None when not ours to check
    (not Linux, Wayland, or another platform plugin)."""
    if not sys.platform.startswith("linux"):
        return None
    platform = environ.get("QT_QPA_PLATFORM", "").split(":")[0].strip()
    if platform in ("offscreen", "minimal"):
        return "offscreen"
    if platform == "xcb" or (not platform and not environ.get("WAYLAND_DISPLAY")):
        return "window"
    return None


def apt_line(packages_missing: list[str]) -> str:
    """The line ``make run`` prints for a user who is not root (scripts/qt-deps.sh)."""
    return f"sudo apt-get install -y {' '.join(packages_missing)}"


def check(environ: Mapping[str, str] = os.environ) -> str | None:
    """None when Qt can start here, else what to tell the user (two lines)."""
    mode = platform_mode(environ)
    if mode is None:
        return None
    lacking = missing(packages(mode))
    if not lacking:
        return None
    return f"Qt needs system libraries that are missing. Run:\n  {apt_line(lacking)}"


def main(argv: list[str]) -> int:
    """``packages MODE``: the package list, one a line; ``check``: the message, exit 1."""
    if len(argv) == 2 and argv[0] == "packages" and argv[1] in MODES:
        print("\n".join(packages(argv[1])))
        return 0
    if argv == ["check"]:
        message = check()
        if message:
            print(message, file=sys.stderr)
        return 1 if message else 0
    print("usage: qt_libs.py packages offscreen|window | check", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

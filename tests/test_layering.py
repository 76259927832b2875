"""`core` must never pull in Qt or `gui`: the CLI and the engine run headless and start fast."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

IMPORT_ALL_OF_CORE = """
import importlib, pkgutil, sys
import core
names = [m.name for m in pkgutil.walk_packages(core.__path__, "core.")]
for name in names:
    importlib.import_module(name)
qt = sorted(m for m in sys.modules if m.split(".")[0] in ("PySide6", "shiboken6", "pyqtgraph"))
print(len(names), qt)
sys.exit(1 if qt else 0)
"""


def test_importing_all_of_core_leaves_qt_out():
    proc = subprocess.run(
        [sys.executable, "-c", IMPORT_ALL_OF_CORE], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    imported = int(proc.stdout.split()[0])
    assert imported >= 5, proc.stdout


def imports_of(path: Path) -> set[str]:
    """Every module a file imports, at the top or inside a function (relative ones resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("core", ("gui", "threadscope", "PySide6", "shiboken6", "pyqtgraph")),
        ("gui", ("threadscope",)),
    ],
)
def test_no_import_points_up_even_inside_a_function(package, forbidden):
    """The launcher (``threadscope/``) is the only module above both ``core`` and ``gui``."""
    found = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in sorted((ROOT / package).rglob("*.py"))
        for name in imports_of(path)
        if name.split(".")[0] in forbidden
    ]
    assert found == []


def test_the_launcher_opens_the_window_only_with_no_arguments():
    assert "gui.app" in imports_of(ROOT / "threadscope" / "launcher.py")
    proc = subprocess.run(
        [sys.executable, "-m", "threadscope", "crawl", "--threads", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "threads" in proc.stderr

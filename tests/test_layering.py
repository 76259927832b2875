"""`core` must never pull in Qt: the CLI and the engine run headless and start fast."""

import subprocess
import sys

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

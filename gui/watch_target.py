"""The Target box's two ways to watch a program: "A Python program" and "A running process".

:class:`ProgramFields` takes a command line, a working directory and environment variables
(``KEY=VALUE`` a line); :class:`ProcessFields` a pid, typed or picked from the user's Python
processes (:class:`ProcessPicker`). Each turns what was typed into a feed for a
:class:`WatchSession` or raises :class:`WatchError` with one line naming what is wrong.
"""

from __future__ import annotations

import os
import re
import shlex
import sys

from PySide6.QtWidgets import (
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from core.watch.errors import WatchError
from gui.process_picker import ProcessPicker
from gui.watch_alerts import WatchObserve
from gui.watch_session import AttachFeed, LaunchFeed

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def parse_command_line(text: str) -> list[str]:
    """Shell words; a command starting with a script gets this interpreter in front."""
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise WatchError(f"command line: {exc}") from None
    if not words:
        raise WatchError("command line: empty (e.g. python app.py --port 8000)")
    if words[0].endswith(".py"):
        words.insert(0, sys.executable)
    return words


def parse_environment(text: str) -> dict[str, str]:
    """``KEY=VALUE`` a line; blank lines and ``#`` comments skipped."""
    env: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, equals, value = line.partition("=")
        if not equals or not _ENV_NAME.match(name.strip()):
            raise WatchError(f"environment, line {number}: not KEY=VALUE: {line}")
        env[name.strip()] = value
    return env


class ProgramFields(QWidget):
    """Command line, working directory, environment."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.command = QLineEdit()
        self.command.setPlaceholderText("python app.py ARGS  (or python -m pkg ARGS)")
        self.command.setToolTip(
            "Started with Threadscope's agent loaded before its first line: threads, stacks, "
            "states, locks and registered queues, nothing to install in its environment."
        )
        self.cwd = QLineEdit()
        self.cwd.setPlaceholderText(os.getcwd())
        self.env = QPlainTextEdit()
        self.env.setPlaceholderText("KEY=VALUE, one a line")
        self.env.setMaximumHeight(64)
        self.interval = QSpinBox()
        self.interval.setRange(10, 5_000)
        self.interval.setValue(100)
        self.interval.setSuffix(" ms")
        self.interval.setToolTip("How often the agent samples the program")
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Command line", self.command)
        form.addRow("Working directory", self.cwd)
        form.addRow("Environment", self.env)
        form.addRow("Sample every", self.interval)

    def feed(self, observe: WatchObserve | None = None) -> LaunchFeed:
        """``observe``: the form's hang dump and metrics port."""
        cwd = self.cwd.text().strip() or None
        if cwd is not None and not os.path.isdir(cwd):
            raise WatchError(f"working directory: not a directory: {cwd}")
        return LaunchFeed(
            parse_command_line(self.command.text()),
            self.interval.value(),
            cwd=cwd,
            env=parse_environment(self.env.toPlainText()),
            observe=observe,
        )


class ProcessFields(QWidget):
    """A pid, typed or chosen in the picker."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.pid = QLineEdit()
        self.pid.setPlaceholderText("pid")
        self.choose = QPushButton("Choose…")
        self.choose.setToolTip("Your Python processes: pid, command, threads, RSS")
        self.choose.clicked.connect(self.pick)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.pid, 1)
        row.addWidget(self.choose)

    def pick(self) -> None:
        picker = ProcessPicker(self)
        if picker.exec() and (pid := picker.selected_pid()) is not None:
            self.pid.setText(str(pid))

    def feed(self, observe: WatchObserve | None = None) -> AttachFeed:
        text = self.pid.text().strip()
        if not text.isdigit() or int(text) <= 0:
            raise WatchError(f"process: not a pid: {text or '(empty)'}")
        return AttachFeed(int(text), observe=observe)

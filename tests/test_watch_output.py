"""The reader of a launched program's stdout and stderr (core.watch.output), on real pipes and
real subprocesses: lines by stream, a prompt without its newline, long lines, and a writer that
never blocks while nobody takes (the oldest lines go, counted; the newest stay)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

from core.watch.output import MAX_LINE, STDERR, STDOUT, OutputLine, ProgramOutput


class Collected:
    """Takes a batch at every wake-up, as the window does."""

    def __init__(self) -> None:
        self.lines: list[OutputLine] = []
        self.dropped = 0
        self.wakeups = threading.Semaphore(0)
        self.output: ProgramOutput | None = None

    def ready(self) -> None:
        self.wakeups.release()

    def take(self) -> None:
        assert self.output is not None
        batch = self.output.take()
        self.lines.extend(batch.lines)
        self.dropped += batch.dropped

    def texts(self, stream: str) -> list[str]:
        return [line.text for line in self.lines if line.stream == stream]


def test_lines_come_by_stream_and_a_prompt_shows_without_its_newline() -> None:
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    seen = Collected()
    pipes = {STDOUT: os.fdopen(out_r, "rb"), STDERR: os.fdopen(err_r, "rb")}
    seen.output = ProgramOutput(pipes, seen.ready)
    seen.output.start()
    os.write(out_w, b"one\ntw")
    os.write(out_w, b"o\r\nName? ")  # a prompt: no newline follows while it waits
    os.write(err_w, b"oops \xff\n")
    while "Name? " not in seen.texts(STDOUT):
        assert seen.wakeups.acquire(timeout=10)
        seen.take()
    os.write(out_w, b"x" * (MAX_LINE * 2 + 5) + b"\n")
    os.close(out_w)
    os.close(err_w)
    assert seen.output.join(10)
    seen.take()
    assert seen.texts(STDOUT)[:3] == ["one", "two", "Name? "]
    assert [len(t) for t in seen.texts(STDOUT)[3:]] == [MAX_LINE, MAX_LINE, 5]
    assert seen.texts(STDERR) == ["oops \ufffd"]
    assert seen.dropped == 0


def test_a_chatty_program_never_blocks_and_its_last_lines_stay(tmp_path) -> None:
    done = tmp_path / "done"
    script = (
        "import sys, pathlib\n"
        "for i in range(300_000): print('line', i)\n"
        f"pathlib.Path({str(done)!r}).write_text('written')\n"
        "sys.stdout.flush()\n"
        "1 / 0\n"
    )
    program = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert program.stdout is not None
    assert program.stderr is not None
    seen = Collected()
    seen.output = ProgramOutput({STDOUT: program.stdout, STDERR: program.stderr}, seen.ready, 500)
    seen.output.start()
    # Nobody takes anything: the program still writes its ~3.5 MB (far past a pipe's 64 KiB)
    # and ends; the reader keeps 500 lines.
    assert program.wait(60) == 1
    assert done.read_text() == "written"
    assert seen.output.join(10)
    assert seen.wakeups.acquire(timeout=0)  # woken once, when the first lines landed
    seen.take()
    assert len(seen.lines) == 500
    assert seen.texts(STDOUT)[-1] == "line 299999"  # the newest kept
    errors = seen.texts(STDERR)
    assert errors[0] == "Traceback (most recent call last):"
    assert errors[-1] == "ZeroDivisionError: division by zero"
    # Each line once, kept or counted (a line the loaded machine paused mid-write for
    # PARTIAL_FLUSH_S comes as two).
    assert seen.dropped + len(seen.lines) >= 300_000 + len(errors)
    assert seen.dropped <= 300_000 + len(errors) - 500 + 2
    assert seen.output.dropped_total == seen.dropped

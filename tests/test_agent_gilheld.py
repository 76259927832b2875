"""The agent's GIL-keeping system calls: same results as the plain calls, and no GIL release.

A release is what costs a CPU-bound program a hand-off (see ``core.agent.gilheld``); the
GIL test below lets a woken thread run only if the main thread releases the GIL.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from core.agent import gilheld, procstat

linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc and PyDLL libc")


@pytest.fixture(params=["libc", "os"])
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each test twice: through libc with the GIL kept, and through the ``os`` fallback."""
    if request.param == "os":
        monkeypatch.setattr(gilheld, "_LIBC", None)
    elif gilheld._LIBC is None:
        pytest.skip("no GIL-keeping libc here")
    return str(request.param)


def test_read_small_reads_a_file_whole_or_says_none(path: str, tmp_path: Path) -> None:
    data = bytes(range(256)) * 8  # 2 KiB, every byte value
    (tmp_path / "f").write_bytes(data)
    assert gilheld.read_small(str(tmp_path / "f")) == data
    assert gilheld.read_small(str(tmp_path / "missing")) is None
    assert gilheld.read_small(str(tmp_path)) is None  # a directory cannot be read


@linux
def test_task_stat_through_it_is_this_thread(path: str) -> None:
    task = procstat.task_stat(os.getpid(), threading.get_native_id())
    assert task is not None
    assert task.tid == threading.get_native_id()
    assert task.state == "R"  # it is reading its own stat
    assert (procstat.rss_bytes(os.getpid()) or 0) > 1_000_000


def test_send_nowait_sends_says_full_and_raises_when_the_peer_is_gone(path: str) -> None:
    mine, theirs = socket.socketpair()
    mine.setblocking(False)
    try:
        assert gilheld.send_nowait(mine, bytearray(b"sample\n")) == 7
        assert theirs.recv(64) == b"sample\n"
        pending = bytearray(os.urandom(1 << 20))  # a slow client's backlog: a prefix goes
        sent = gilheld.send_nowait(mine, pending)
        assert 0 < sent <= len(pending)
        got = bytearray()
        while len(got) < sent:
            got += theirs.recv(sent - len(got))
        assert got == pending[:sent]
        chunk, taken = b"x" * 65536, []
        for _ in range(1000):  # a socket buffer is a few hundred KiB at most
            taken.append(gilheld.send_nowait(mine, chunk))
            if taken[-1] == 0:
                break
        assert taken[-1] == 0, "the buffer never filled"
        theirs.close()
        with pytest.raises(BrokenPipeError):  # what socket.send raises too
            gilheld.send_nowait(mine, chunk)
    finally:
        mine.close()
        theirs.close()


def _ran_meanwhile(calls: Callable[[], object]) -> bool:
    """Whether a woken thread got the GIL while ``calls`` ran on this one: with a 1 s switch
    interval it can only if this thread released the GIL."""
    woken, ran = threading.Event(), []
    thread = threading.Thread(target=lambda: (woken.wait(), ran.append(True)))
    thread.start()
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1.0)
    try:
        woken.set()  # from here the thread waits for the GIL only
        for _ in range(300):
            calls()
        result = bool(ran)
    finally:
        sys.setswitchinterval(previous)
        thread.join(5)
    return result


@linux
def test_the_libc_path_never_releases_the_gil_where_the_os_path_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert gilheld._LIBC is not None, "the GIL-keeping path should load on Linux"
    mine, theirs = socket.socketpair()
    mine.setblocking(False)

    def sample() -> None:
        gilheld.read_small("/proc/self/stat")
        gilheld.send_nowait(mine, b"x")  # 300 bytes in all: the buffer takes them

    try:
        assert not _ran_meanwhile(sample)
        monkeypatch.setattr(gilheld, "_LIBC", None)
        assert _ran_meanwhile(sample)
    finally:
        mine.close()
        theirs.close()

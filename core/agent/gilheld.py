"""The agent's few system calls made without releasing the GIL: /proc reads and its sends.

Python releases the GIL around every system call. Inside the watched program each release
can hand the GIL to a program thread (one waiting for it always is, in a CPU-bound program);
the agent then waits a switch interval (5 ms) to force it back: a forced hand-off both ways,
several per sample. ``bench.agent_cost`` measured those hand-offs, not the sampling, as most
of what the agent cost a CPU-bound program. Reading a /proc stat file and a non-blocking send
on a Unix socket take microseconds and never wait, so through ``ctypes.PyDLL`` (calls that
keep the GIL) they cost the program no hand-off. Where ctypes or these libc functions are
missing, the plain ``os`` / ``socket`` calls do the same work.
"""

from __future__ import annotations

import errno
import os
import socket
import sys
from typing import Any

_SEND_FLAGS = getattr(socket, "MSG_DONTWAIT", 0) | getattr(socket, "MSG_NOSIGNAL", 0)
_SEND_MAX = 256 * 1024  # per call: more than a Unix socket's buffer takes at once


def _libc() -> Any:
    """libc's open/read/close/send as GIL-keeping calls, or None."""
    if not sys.platform.startswith("linux"):  # MSG_NOSIGNAL and /proc: Linux only
        return None
    try:
        import ctypes

        libc = ctypes.PyDLL(None, use_errno=True)
        libc.open.argtypes = [ctypes.c_char_p, ctypes.c_int]
        libc.open.restype = ctypes.c_int
        libc.read.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t]
        libc.read.restype = ctypes.c_ssize_t
        libc.close.argtypes = [ctypes.c_int]
        libc.close.restype = ctypes.c_int
        libc.send.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int]
        libc.send.restype = ctypes.c_ssize_t
    except (ImportError, OSError, AttributeError):
        return None
    return libc


_LIBC = _libc()
_ctypes: Any = sys.modules.get("ctypes")  # imported by _libc() when it could be
_O_RDONLY_CLOEXEC = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)


def read_small(path: str) -> bytes | None:
    """A /proc file of at most 4 KiB (one read); None when it cannot be read."""
    libc = _LIBC
    if libc is None:
        return _read_os(path)
    fd = libc.open(os.fsencode(path), _O_RDONLY_CLOEXEC)
    if fd < 0:
        return None
    buffer = _ctypes.create_string_buffer(4096)  # per call: procstat serves several threads
    try:
        n = libc.read(fd, buffer, 4096)
        return buffer.raw[:n] if n >= 0 else None
    finally:
        libc.close(fd)


def _read_os(path: str) -> bytes | None:
    try:
        fd = os.open(path, os.O_RDONLY)  # not inherited (PEP 446)
    except OSError:
        return None
    try:
        return os.read(fd, 4096)
    except OSError:
        return None
    finally:
        os.close(fd)


def send_nowait(sock: socket.socket, data: bytes | bytearray) -> int:
    """Bytes of ``data`` the non-blocking ``sock`` took now (0 when its buffer is full);
    ``OSError`` when the connection is gone, as ``sock.send`` would raise."""
    libc = _LIBC
    if libc is None:
        try:
            return sock.send(data)
        except (BlockingIOError, InterruptedError):
            return 0
    chunk = bytes(data[:_SEND_MAX])  # a bounded copy, however much is pending
    sent = libc.send(sock.fileno(), chunk, len(chunk), _SEND_FLAGS)
    if sent >= 0:
        return int(sent)
    error = _ctypes.get_errno()
    if error in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EINTR):
        return 0
    raise OSError(error, os.strerror(error))

"""The agent thread: samples on a steady pace and serves them over an owner-only Unix socket.

It never blocks the program: the socket is non-blocking, and while a client still has the
previous sample unsent the new one is dropped for that client and counted (the count goes
out with the next sample it gets). Nothing is sampled, and the thread does not even wake, while
nobody is connected. The thread is a daemon named ``threadscope-agent``, so it never keeps the
program alive; any error of its own ends it quietly, never the program. A forked child closes
its copies of the sockets. Its sends keep the GIL (``gilheld``).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import selectors
import socket
import struct
import threading
import time
from typing import Any

from . import memory, protocol, sampling
from .gilheld import send_nowait
from .sampling_profile import SamplingProfile

_MAX_PENDING = 32 * 1024 * 1024  # a client that lets this much pile up is cut off
_MAX_REQUEST = 64 * 1024
MAX_LOCKS = 5_000  # a ``locks`` reply lists at most this many (and says how many it left off)


class _Client:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.out = bytearray()
        self.inbox = bytearray()
        self.dropped = 0
        self.events = selectors.EVENT_READ  # what the selector watches it for
        self.snapshots: dict[int, Any] = {}  # this client's last two tracemalloc snapshots
        self.taken = 0  # snapshots taken for it so far (their numbers)

    def keep(self, snapshot: Any) -> int:
        """Keep ``snapshot`` as the newest of two; its number."""
        self.taken += 1
        self.snapshots = {n: s for n, s in self.snapshots.items() if n == self.taken - 1}
        self.snapshots[self.taken] = snapshot
        return self.taken


class Agent:
    def __init__(self, path: str, interval_s: float, locks: Any = None) -> None:
        self.path = path
        self.interval_s = interval_s
        self.locks = locks
        self._selector = selectors.DefaultSelector()
        self._clients: dict[int, _Client] = {}
        self._stop = False
        self._profile: SamplingProfile | None = None  # one for the program, whoever asked
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._thread = threading.Thread(
            target=self._run, name=protocol.AGENT_THREAD_NAME, daemon=True
        )

    def start(self) -> None:
        """Bind the socket (0600, in a 0700 directory) and start the agent thread.

        Bound under a temporary name and renamed once listening, so a client that sees the
        path can connect."""
        staging = f"{self.path}.{os.getpid()}.tmp"
        with contextlib.suppress(FileNotFoundError):
            os.unlink(staging)
        self._listener.bind(staging)
        os.chmod(staging, 0o600)
        self._listener.listen(8)
        os.replace(staging, self.path)
        self._listener.setblocking(False)
        self._selector.register(self._listener, selectors.EVENT_READ)
        atexit.register(self._unlink)
        os.register_at_fork(after_in_child=self._forget)
        self._thread.start()

    def _unlink(self) -> None:
        with contextlib.suppress(OSError):
            os.unlink(self.path)

    def _forget(self) -> None:
        """In a forked child: the sockets belong to the parent; close our copies, serve none."""
        self._stop = True
        for client in self._clients.values():
            client.sock.close()
        self._listener.close()
        atexit.unregister(self._unlink)

    def _run(self) -> None:
        with contextlib.suppress(Exception):  # whatever happens here, never to the program
            self._loop()

    def _loop(self) -> None:
        next_tick = time.monotonic()
        while not self._stop:
            # Nobody connected: sleep until someone is. Each wake-up takes the GIL from the
            # program (a switch interval's wait, then a forced hand-off both ways).
            timeout = max(0.0, next_tick - time.monotonic()) if self._clients else None
            for key, events in self._selector.select(timeout):
                if key.fileobj is self._listener:
                    self._accept()
                    continue
                client = self._clients.get(key.fd)
                if client is not None and events & selectors.EVENT_READ:
                    self._read(client)
                client = self._clients.get(key.fd)
                if client is not None and events & selectors.EVENT_WRITE:
                    self._flush(client)
            now = time.monotonic()
            if now >= next_tick:
                next_tick = max(next_tick + self.interval_s, now)
                if self._clients:
                    with contextlib.suppress(Exception):  # skip a sample, keep serving
                        self._broadcast()

    def _accept(self) -> None:
        try:
            sock, _ = self._listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        if not _same_user(sock):
            sock.close()
            return
        sock.setblocking(False)
        client = _Client(sock)
        self._clients[sock.fileno()] = client
        self._selector.register(sock, selectors.EVENT_READ)
        hello = {
            "type": "hello",
            "pid": os.getpid(),
            "python": sampling.python_version(),
            "agent_version": protocol.AGENT_VERSION,
            "interval_ms": round(self.interval_s * 1000),
            "locks": self.locks is not None,
        }
        self._send(client, protocol.encode(hello))

    def _read(self, client: _Client) -> None:
        try:
            data = client.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._drop(client)
            return
        client.inbox += data
        while b"\n" in client.inbox:
            line, _, rest = bytes(client.inbox).partition(b"\n")
            client.inbox = bytearray(rest)
            self._answer(client, line)
        if len(client.inbox) > _MAX_REQUEST:
            self._drop(client)

    def _answer(self, client: _Client, line: bytes) -> None:
        """One request, one reply of the same ``type`` (``error`` when it cannot be served),
        carrying the request's ``id`` back. See ``protocol`` for the requests."""
        try:
            request = protocol.decode(line)
        except ValueError:
            request = {}
        kind = request.get("type")
        try:
            reply = {"type": kind, **self._serve(client, kind, request)}
        except Exception as exc:  # a request that fails is the client's news, not the program's
            reply = {"type": "error", "request": kind, "message": f"{type(exc).__name__}: {exc}"}
        if "id" in request:
            reply["id"] = request["id"]
        self._send(client, protocol.encode(reply))

    def _serve(self, client: _Client, kind: Any, request: dict[str, Any]) -> dict[str, Any]:
        if kind == "dump":
            return sampling.take_sample(self.locks)
        if kind == "trace_start":
            return memory.start()
        if kind == "trace_stop":
            client.snapshots = {}  # a snapshot holds every trace: let it go
            return memory.stop()
        if kind == "traced":
            return memory.status()
        if kind == "memory_top":
            snapshot = memory.snapshot()
            return {"snapshot": client.keep(snapshot), **memory.top(snapshot, request.get("limit"))}
        if kind == "memory_diff":
            return self._diff(client, request)
        if kind == "locks":
            return self._locks()
        if kind == "lock_waits":
            waits = self.locks.wait_histogram() if self.locks is not None else {}
            return {"tracking": self.locks is not None, **waits}
        if kind == "profile_start":
            if self._profile is not None:
                raise RuntimeError("a profile is already running")
            self._profile = SamplingProfile()
            return self._profile.start()
        if kind == "profile_stop":
            running, self._profile = self._profile, None
            if running is None:
                raise RuntimeError("no profile is running: profile_start first")
            return running.stop(request.get("limit"))
        raise ValueError(f"unknown request {kind!r}")

    def _diff(self, client: _Client, request: dict[str, Any]) -> dict[str, Any]:
        """Two kept snapshots (``old``, ``new`` numbers), or a new one against the last kept."""
        if "old" in request or "new" in request:
            old, new = (client.snapshots.get(request.get(key, 0)) for key in ("old", "new"))
            if old is None or new is None:
                raise RuntimeError(f"snapshots kept are {sorted(client.snapshots)}, no others")
            return memory.diff(old, new, request.get("limit"))
        if not client.snapshots:
            raise RuntimeError("no earlier snapshot to compare with: ask memory_top first")
        old = client.snapshots[client.taken]
        new = memory.snapshot()
        return {"snapshot": client.keep(new), **memory.diff(old, new, request.get("limit"))}

    def _locks(self) -> dict[str, Any]:
        """The tracker's raw snapshot (``locks.snapshot()``), at most ``MAX_LOCKS`` of them."""
        if self.locks is None:
            return {"tracking": False, "locks": []}
        snap = dict(self.locks.snapshot())
        every = snap.get("locks", [])
        snap["locks"] = every[:MAX_LOCKS]
        return {"tracking": True, **snap, "left_off": max(0, len(every) - MAX_LOCKS)}

    def _broadcast(self) -> None:
        body = sampling.encode(sampling.take_sample(self.locks))  # once for every client
        for client in list(self._clients.values()):
            if client.out:  # the last one is still on its way: drop this one, count it
                client.dropped += 1
                continue
            self._send(client, b'{"type":"sample","dropped":%d,' % client.dropped + body[1:])
            client.dropped = 0

    def _send(self, client: _Client, data: bytes) -> None:
        client.out += data
        if len(client.out) > _MAX_PENDING:
            self._drop(client)
            return
        self._flush(client)

    def _flush(self, client: _Client) -> None:
        try:
            sent = send_nowait(client.sock, client.out)
        except OSError:
            self._drop(client)
            return
        del client.out[:sent]
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if client.out else 0)
        if events != client.events:  # epoll_ctl releases the GIL: only when it changes
            self._selector.modify(client.sock, events)
            client.events = events

    def _drop(self, client: _Client) -> None:
        self._clients.pop(client.sock.fileno(), None)
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(client.sock)
        client.sock.close()


def _same_user(sock: socket.socket) -> bool:
    """The directory and socket modes already keep others out; on Linux check the peer too."""
    option = getattr(socket, "SO_PEERCRED", None)
    if option is None:
        return True
    try:
        _pid, uid, _gid = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, option, 12))
    except OSError:
        return False
    return bool(uid == os.getuid())

"""``AgentClient``: reads one agent's socket on its own thread and hands samples on.

Made for a view that must never wait: ``on_sample(sample)`` and ``on_end(reason)`` run on the
reader thread (``threadscope-watch-client``) and must return quickly — a Qt view passes
``EventStream.publish`` or a signal's ``emit``; the headless table keeps the latest sample.
``latest`` is there to poll as well. ``request_dump()`` asks for an immediate full sample;
``request(type, **fields)`` sends any other request (see ``core.agent.protocol``) and returns
its reply, or raises ``WatchError`` after ``timeout`` or when the agent is gone. Requests from
several threads take turns; each carries an ``id``, so a reply that came too late is dropped.
End of stream (the program exited or crashed) calls ``on_end`` once and sets ``ended``.
"""

from __future__ import annotations

import contextlib
import itertools
import queue
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from core.agent import protocol
from core.watch.errors import WatchError
from core.watch.model import Sample, sample_from_message


class AgentClient:
    def __init__(
        self,
        path: str,
        on_sample: Callable[[Sample], None] | None = None,
        on_end: Callable[[str], None] | None = None,
    ) -> None:
        self.path = path
        self.hello: dict[str, Any] = {}
        self.latest: Sample | None = None
        self.samples = 0
        self.dropped = 0  # samples the agent dropped for us, in all
        self.ended = threading.Event()
        self.end_reason = ""
        self._closing = False
        self._on_sample = on_sample
        self._on_end = on_end
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._replies: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        self._turn = threading.Lock()
        self._ids = itertools.count(1)
        self._thread = threading.Thread(
            target=self._read, name="threadscope-watch-client", daemon=True
        )

    def connect(self, timeout: float = 5.0) -> AgentClient:
        """Connect, read the agent's hello, start the reader thread."""
        self._sock.settimeout(timeout)
        try:
            self._sock.connect(self.path)
            self._file = self._sock.makefile("rb")
            line = self._file.readline(protocol.MAX_LINE_BYTES)
        except OSError as exc:
            self._release()
            raise WatchError(f"cannot reach the agent at {self.path}: {exc}") from None
        if not line:  # the program is exiting
            self._release()
            raise WatchError(f"the agent at {self.path} closed the connection")
        self.hello = protocol.decode(line)
        self._sock.settimeout(None)
        self._thread.start()
        return self

    def _release(self) -> None:
        """Close the socket for good: its fd goes only with the last file made from it."""
        if hasattr(self, "_file"):
            self._file.close()
        self._sock.close()

    def request_dump(self, timeout: float = 5.0) -> Sample:
        return sample_from_message(self.request("dump", timeout))

    def request(self, kind: str, timeout: float = 10.0, **fields: Any) -> dict[str, Any]:
        """Send one request and wait at most ``timeout`` s for its reply (``WatchError`` if
        it does not come, the agent is gone, or it answers with an error)."""
        if not self._thread.is_alive():
            raise WatchError(f"the agent is not connected ({self.end_reason or 'not started'})")
        with self._turn:
            number = next(self._ids)
            try:
                self._sock.sendall(protocol.encode({"type": kind, "id": number, **fields}))
            except OSError as exc:
                raise WatchError(f"cannot send {kind} to the agent: {exc}") from None
            reply = self._reply(number, time.monotonic() + timeout)
        if reply is None:
            raise WatchError(f"the agent did not answer the {kind} request within {timeout:g} s")
        if reply.get("type") == "end":
            self._replies.put(reply)  # for whoever asks next
            raise WatchError(f"the agent is gone ({self.end_reason}); no {kind} reply")
        if reply.get("type") != kind:
            raise WatchError(f"the agent could not {kind}: {reply.get('message', reply)}")
        return reply

    def _reply(self, number: int, deadline: float) -> dict[str, Any] | None:
        while (left := deadline - time.monotonic()) > 0:
            try:
                reply = self._replies.get(timeout=left)
            except queue.Empty:
                return None
            if reply.get("type") == "end" or reply.get("id") == number:
                return reply
        return None

    def close(self) -> None:
        self._closing = True
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(2.0)
        if not self._thread.is_alive():
            self._release()

    def _read(self) -> None:
        reason = "the program ended"
        try:
            for line in iter(lambda: self._file.readline(protocol.MAX_LINE_BYTES), b""):
                message = protocol.decode(line)
                if message.get("type") == "sample":
                    sample = sample_from_message(message)
                    self.latest = sample
                    self.samples += 1
                    self.dropped += sample.dropped
                    if self._on_sample is not None:
                        self._on_sample(sample)
                else:
                    self._replies.put(message)
        except (OSError, ValueError) as exc:
            reason = f"the connection to the agent broke: {exc}"
        finally:
            self.end_reason = "closed by Threadscope" if self._closing else reason
            self._replies.put({"type": "end"})
            self.ended.set()
            if self._on_end is not None:
                self._on_end(reason)

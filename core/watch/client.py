"""``AgentClient``: reads one agent's socket on its own thread and hands samples on.

Made for a view that must never wait: ``on_sample(sample)`` and ``on_end(reason)`` run on the
reader thread (``threadscope-watch-client``) and must return quickly — a Qt view passes
``EventStream.publish`` or a signal's ``emit``; the headless table keeps the latest sample.
``latest`` is there to poll as well. ``request_dump()`` asks for an immediate full sample.
End of stream (the program exited or crashed) calls ``on_end`` once and sets ``ended``.
"""

from __future__ import annotations

import contextlib
import queue
import socket
import threading
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
        try:
            self._sock.sendall(protocol.encode({"type": "dump"}))
            reply = self._replies.get(timeout=timeout)
        except (OSError, queue.Empty):
            raise WatchError("the agent did not answer the dump request") from None
        if reply.get("type") != "dump":
            raise WatchError(f"the agent could not dump: {reply.get('message', reply)}")
        return sample_from_message(reply)

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

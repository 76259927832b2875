"""Run the test site in a child process, so the process being watched sees only the crawl."""

from __future__ import annotations

import http.client
import json
import os
import queue
import subprocess
import sys
import threading
from typing import IO, Any, cast
from urllib.parse import urlsplit

from core.testsite.cli import config_to_argv
from core.testsite.site import SiteConfig

_REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class TestSiteError(RuntimeError):
    """The child process did not start or stopped answering."""


class TestSite:
    """Context manager around ``python -m core.testsite``.

    Keyword arguments are :class:`SiteConfig` fields; ``traps=True`` links the /trap/ index
    from ``/``, a list of trap names links only those.
    """

    __test__ = False  # not a pytest test class despite the name

    def __init__(self, *, start_timeout: float = 10.0, **options: Any) -> None:
        traps = options.pop("traps", ())
        if traps is True:
            traps = ("all",)
        elif traps is False or traps is None:
            traps = ()
        self.config = SiteConfig(traps=tuple(traps), **options)
        self.start_timeout = start_timeout
        self.url = ""
        self._proc: subprocess.Popen[bytes] | None = None

    # lifecycle ---------------------------------------------------------------------------
    def start(self) -> TestSite:
        if self._proc is not None:
            raise TestSiteError("test site already started")
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [_REPO_ROOT, env.get("PYTHONPATH")]))
        cmd = [sys.executable, "-m", "core.testsite", "--exit-on-stdin-eof"]
        proc = self._proc = subprocess.Popen(
            cmd + config_to_argv(self.config),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            cwd=_REPO_ROOT,
        )
        stdout = cast(IO[bytes], proc.stdout)  # stdout=PIPE
        lines: queue.Queue[bytes] = queue.Queue()
        reader = threading.Thread(
            target=lambda: lines.put(stdout.readline()),
            name="testsite-url-reader",
            daemon=True,
        )
        reader.start()
        try:
            line = lines.get(timeout=self.start_timeout).decode().strip()
        except queue.Empty:
            self.stop()
            raise TestSiteError(f"test site printed no URL within {self.start_timeout} s") from None
        reader.join()
        if not line.startswith("http://"):
            code = self.stop()
            raise TestSiteError(f"test site failed to start (exit status {code})")
        self.url = line
        return self

    def stop(self, timeout: float = 5.0) -> int | None:
        """Terminate the child (kill if it lingers) and reap it; returns its exit status."""
        proc, self._proc = self._proc, None
        if proc is None:
            return None
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                pipe.close()
        return proc.returncode

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def __enter__(self) -> TestSite:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # control endpoints -------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        """Counters from ``GET /__stats`` (requests, pages_served, by_route, ...)."""
        return self._control("/__stats")

    def reset_stats(self) -> dict[str, Any]:
        return self._control("/__reset")

    def _control(self, path: str) -> dict[str, Any]:
        if not self.url:
            raise TestSiteError("test site is not running")
        parts = urlsplit(self.url)
        conn = http.client.HTTPConnection(parts.netloc, timeout=5)  # host:port
        try:
            conn.request("GET", path)
            counters: dict[str, Any] = json.loads(conn.getresponse().read())
            return counters
        finally:
            conn.close()

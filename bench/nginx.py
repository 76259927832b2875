"""A private nginx serving a static export of the test site, so the server is never the bottleneck.

The config lives in a temp dir; the access log has one ``status uri`` line per request, which
is how the bench checks that each crawler fetched every page (the server's own count).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

APT_COMMAND = "sudo apt-get install -y nginx"

_CONFIG = """\
worker_processes {workers};
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    log_format counted '$status $request_uri';
    access_log {tmp}/access.log counted;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    types {{ text/html html; }}
    default_type text/html;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    keepalive_timeout 60s;
{servers}}}
"""

_SERVER = """\
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        root {root};
        location / {{ try_files $uri $uri.html $uri/index.html =404; }}
        location = /page/0 {{ return 301 /; }}
    }}
"""


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Nginx:
    """``with Nginx(root) as server: server.url; server.pages_served()``.

    ``hosts`` > 1: that many server blocks on as many ports, all serving ``root`` and counted
    in one access log; ``urls`` are known before ``__enter__``, so pages can link to them.
    """

    def __init__(self, root: Path, workers: str = "1", hosts: int = 1) -> None:
        binary = nginx_binary()
        if binary is None:
            raise RuntimeError(f"nginx is not installed; run: {APT_COMMAND}")
        self.binary = binary
        self.root = Path(root).resolve()
        self.workers = workers
        self.tmp = Path(tempfile.mkdtemp(prefix="threadscope-nginx-"))
        self.ports = [_free_port() for _ in range(hosts)]
        self.urls = [f"http://127.0.0.1:{port}/" for port in self.ports]
        self.url = self.urls[0]
        self._process: subprocess.Popen | None = None

    def __enter__(self) -> Nginx:
        config = self.tmp / "nginx.conf"
        servers = "".join(_SERVER.format(port=port, root=self.root) for port in self.ports)
        config.write_text(_CONFIG.format(workers=self.workers, tmp=self.tmp, servers=servers))
        self._process = subprocess.Popen(
            [self.binary, "-e", str(self.tmp / "error.log"), "-p", str(self.tmp), "-c", config],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 10
        waiting = list(self.ports)
        while time.monotonic() < deadline and self._process.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", waiting[0]), timeout=0.2).close()
            except OSError:
                time.sleep(0.05)
                continue
            waiting.pop(0)
            if not waiting:
                return self
        error = self._process.stderr.read().decode() if self._process.poll() is not None else ""
        self.__exit__()
        raise RuntimeError(f"nginx did not start on ports {self.ports}: {error.strip()}")

    @property
    def pid(self) -> int:
        return self._process.pid

    def pages_served(self) -> int:
        """HTML pages answered with 200 so far (robots.txt and errors are not pages)."""
        path = self.tmp / "access.log"
        if not path.exists():
            return 0
        with path.open("rb") as log:
            return sum(1 for line in log if line.startswith(b"200 ") and b"robots.txt" not in line)

    def __exit__(self, *exc: object) -> None:
        process = self._process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGQUIT)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        if process is not None and process.stderr:
            process.stderr.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

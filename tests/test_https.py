"""The fetcher's HTTPS path over loopback: a real TLS handshake against a self-signed server."""

import http.server
import shutil
import ssl
import subprocess
import threading

import pytest

from core.fetcher import Fetcher
from core.settings import CrawlSettings

pytestmark = pytest.mark.skipif(not shutil.which("openssl"), reason="needs the openssl command")


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tls")
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, name="tls-server", daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_an_untrusted_certificate_is_an_error_row_not_a_crash(tls_server):
    fetcher = Fetcher(CrawlSettings(start_urls=(tls_server,), retries=0))
    try:
        outcome = fetcher.fetch(tls_server)
    finally:
        fetcher.close()
    assert outcome.status is None
    assert outcome.error is not None
    assert "CERTIFICATE_VERIFY_FAILED" in outcome.error.message

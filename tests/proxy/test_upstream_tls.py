"""An ``https://`` upstream on both engines (issue 11 defect 4): a private CA
trusted through ``upstream.ca_file``, host-name verification, a base path, and
an mTLS upstream that requires the proxy's client certificate.

The upstream is an in-process HTTPS echo server whose certificate comes from
the session's ``test_ca``; it answers with the target it received and the
subject of the client certificate (if any).
"""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.support.rawhttp import raw_request, request_head

from .proxy_harness import FakeIdP

pytestmark = pytest.mark.integration

ProxyFactory = Callable[..., Any]


class _Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        cert = self.connection.getpeercert() if isinstance(self.connection, ssl.SSLSocket) else None
        subject = dict(x[0] for x in cert["subject"]) if cert else {}
        body = json.dumps({"target": self.path, "client_cn": subject.get("commonName")}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


@dataclass
class TLSUpstream:
    server: ThreadingHTTPServer

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.server.server_address[1]}"


def _serve(test_ca: Any, *, require_client_cert: bool) -> TLSUpstream:
    cert, key = test_ca.issue(["127.0.0.1"])
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert), str(key))
    if require_client_cert:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(cafile=str(test_ca.cert_file))
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return TLSUpstream(server)


@pytest.fixture
def tls_upstream(test_ca: Any) -> Iterator[TLSUpstream]:
    upstream = _serve(test_ca, require_client_cert=False)
    yield upstream
    upstream.server.shutdown()


@pytest.fixture
def mtls_upstream(test_ca: Any) -> Iterator[TLSUpstream]:
    upstream = _serve(test_ca, require_client_cert=True)
    yield upstream
    upstream.server.shutdown()


async def _get(proxy: Any, idp: FakeIdP, target: str = "/apis/x?q=1") -> Any:
    head = request_head("GET", target, proxy.port, [("Authorization", f"Bearer {idp.mint()}")])
    return await raw_request(proxy.port, head)


async def test_private_ca_and_base_path(
    proxy_factory: ProxyFactory, fake_idp: FakeIdP, tls_upstream: TLSUpstream, test_ca: Any
) -> None:
    proxy = proxy_factory(
        upstream={"url": tls_upstream.url + "/api", "ca_file": str(test_ca.cert_file)}
    )
    response = await _get(proxy, fake_idp)
    assert response.status == 200, response.body
    assert response.json() == {"target": "/api/apis/x?q=1", "client_cn": None}


async def test_untrusted_upstream_certificate_is_a_502(
    proxy_factory: ProxyFactory, fake_idp: FakeIdP, tls_upstream: TLSUpstream
) -> None:
    proxy = proxy_factory(upstream={"url": tls_upstream.url})  # system store only
    response = await _get(proxy, fake_idp)
    assert response.status == 502
    assert b"/apis/x" not in response.body


async def test_mtls_upstream_gets_the_client_certificate(
    proxy_factory: ProxyFactory, fake_idp: FakeIdP, mtls_upstream: TLSUpstream, test_ca: Any
) -> None:
    cert, key = test_ca.issue(["authgate-proxy"], common_name="authgate-proxy", client=True)
    with_cert = proxy_factory(
        upstream={
            "url": mtls_upstream.url,
            "ca_file": str(test_ca.cert_file),
            "client_cert_file": str(cert),
            "client_key_file": str(key),
        }
    )
    response = await _get(with_cert, fake_idp)
    assert response.status == 200, response.body
    assert response.json()["client_cn"] == "authgate-proxy"
    without = proxy_factory(upstream={"url": mtls_upstream.url, "ca_file": str(test_ca.cert_file)})
    assert (await _get(without, fake_idp)).status == 502

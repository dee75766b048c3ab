"""Regression cases for issue 11's parity defects, on both engines.

Each case failed on main 29dfefa on at least one engine (mostly lean) and
must pass on both.  The upstream is a raw-socket recorder on loopback, so
the test sees the exact bytes each engine forwarded and can answer with a
``101`` nobody asked for.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.support.rawhttp import raw_request
from tests.support.sockserver import SocketServer

from .proxy_harness import FakeIdP

ProxyFactory = Callable[..., Any]

pytestmark = pytest.mark.integration


@dataclass
class RawUpstream(SocketServer):
    """Accepts connections, records each request head, answers ``reply``."""

    reply: bytes = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
    heads: list[bytes] = field(default_factory=list)
    received: list[bytes] = field(default_factory=list)

    def handle(self, conn: socket.socket) -> None:
        conn.settimeout(3)
        data = b""
        try:
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            self.heads.append(data.split(b"\r\n\r\n", 1)[0])
            conn.sendall(self.reply)
            while True:  # anything after the head (a smuggled request) is recorded
                chunk = conn.recv(65536)
                if not chunk:
                    break
                self.received.append(chunk)
        except OSError:
            pass
        finally:
            conn.close()


@pytest.fixture
def raw_upstream() -> Iterator[RawUpstream]:
    upstream = RawUpstream().start()
    yield upstream
    upstream.close()


def _head(lines: list[str]) -> bytes:
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


async def test_defect1_h2c_upgrade_is_not_forwarded_or_spliced(
    proxy_factory: ProxyFactory, raw_upstream: RawUpstream
) -> None:
    raw_upstream.reply = (
        b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"
    )
    proxy = proxy_factory(
        upstream={"url": f"http://127.0.0.1:{raw_upstream.port}"},
        authorization={"public_paths": ["/public/"]},
    )
    head = _head(
        [
            "GET /public/x HTTP/1.1",
            f"Host: 127.0.0.1:{proxy.port}",
            "Connection: Upgrade, HTTP2-Settings",
            "Upgrade: h2c",
            "HTTP2-Settings: AAMAAABkAAQAAP__",
        ]
    )
    smuggled = b"DELETE /apis/admin/all HTTP/1.1\r\nHost: x\r\n\r\n"
    response = await raw_request(proxy.port, head, smuggled)
    assert response.status == 502  # a 101 the request could not ask for
    assert raw_upstream.heads, "the request itself is forwarded as plain HTTP/1.1"
    forwarded = raw_upstream.heads[0].lower()
    assert b"upgrade" not in forwarded and b"http2-settings" not in forwarded
    assert b"DELETE" not in b"".join(raw_upstream.received)


async def test_defect2_non_latin1_identity_gets_the_same_bytes(
    proxy_factory: ProxyFactory, raw_upstream: RawUpstream, fake_idp: FakeIdP
) -> None:
    proxy = proxy_factory(upstream={"url": f"http://127.0.0.1:{raw_upstream.port}"})
    token = fake_idp.mint(sub="józef-ł-日本-🙂", email="josé@example.com", groups=["ß,x"])
    head = _head(
        [
            "GET /apis/x HTTP/1.1",
            f"Host: 127.0.0.1:{proxy.port}",
            "Connection: close",
            f"Authorization: Bearer {token}",
        ]
    )
    response = await raw_request(proxy.port, head)
    assert response.status == 200
    forwarded = raw_upstream.heads[0]
    assert b"X-NMP-Principal-Id: j%C3%B3zef-%C5%82-%E6%97%A5%E6%9C%AC-%F0%9F%99%82\r\n" in forwarded
    assert b"X-NMP-Principal-Email: jos%C3%A9@example.com\r\n" in forwarded
    assert b"X-NMP-Principal-Groups: %C3%9F%2Cx" in forwarded


@pytest.mark.parametrize(
    "lines",
    [
        ["GET /public/x HTTP/1.1", "Host: a", "Host: b"],
        ["GET /public/x HTTP/1.1"],
        ["GET /public/x HTTP/1.1", "Host: a b/c@d"],
    ],
    ids=["two-hosts", "no-host-http11", "invalid-host"],
)
async def test_defect3_host_rules(
    proxy_factory: ProxyFactory, raw_upstream: RawUpstream, lines: list[str]
) -> None:
    proxy = proxy_factory(
        upstream={"url": f"http://127.0.0.1:{raw_upstream.port}"},
        authorization={"public_paths": ["/public/"]},
    )
    response = await raw_request(proxy.port, _head([*lines, "Connection: close"]))
    assert response.status == 400
    assert not raw_upstream.heads


async def test_defect4_base_path_is_honoured(
    proxy_factory: ProxyFactory, raw_upstream: RawUpstream
) -> None:
    proxy = proxy_factory(
        upstream={"url": f"http://127.0.0.1:{raw_upstream.port}/api"},
        authorization={"public_paths": ["/public/"]},
    )
    head = _head(["GET /public/x?q=1 HTTP/1.1", "Host: h", "Connection: close"])
    assert (await raw_request(proxy.port, head)).status == 200
    assert raw_upstream.heads[0].startswith(b"GET /api/public/x?q=1 HTTP/1.1\r\n")


async def test_defect7_dot_spelled_identity_headers_are_stripped(
    proxy_factory: ProxyFactory, raw_upstream: RawUpstream, fake_idp: FakeIdP
) -> None:
    proxy = proxy_factory(upstream={"url": f"http://127.0.0.1:{raw_upstream.port}"})
    head = _head(
        [
            "GET /apis/x HTTP/1.1",
            f"Host: 127.0.0.1:{proxy.port}",
            "Connection: close",
            f"Authorization: Bearer {fake_idp.mint()}",
            "X.NMP.Principal.Id: admin",
        ]
    )
    assert (await raw_request(proxy.port, head)).status == 200
    assert b"admin" not in raw_upstream.heads[0]

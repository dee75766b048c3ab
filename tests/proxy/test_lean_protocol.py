"""The lean data path at the byte level: pipelining, keep-alive, strict parsing,
chunked bodies both ways, back-pressure against a slow reader.

Every test drives a real ``authgate proxy`` process (engine ``lean``) in front
of the real demo upstream over raw sockets, because these properties live
below what an HTTP client library lets one express.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from .proxy_harness import FakeIdP, ProxyProcess

pytestmark = pytest.mark.integration


@pytest.fixture
def engine() -> str:
    """These tests are about the lean engine only (overrides the conftest matrix)."""
    return "lean"


@pytest.fixture
def token(fake_idp: FakeIdP) -> str:
    return fake_idp.mint()


class Conn:
    """One raw client connection that reads responses one at a time."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, proxy: ProxyProcess) -> Conn:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port, limit=1 << 20)
        return cls(reader, writer)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def response(self, *, head_only: bool = False) -> tuple[int, dict[str, str], bytes]:
        async def go() -> tuple[int, dict[str, str], bytes]:
            while True:
                head = await self.reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                status = int(lines[0].split()[1])
                if status != 100:
                    break
            headers = {}
            for line in lines[1:]:
                if ":" in line:
                    k, v = line.split(":", 1)
                    headers[k.strip().lower()] = v.strip()
            if head_only:
                return status, headers, b""
            if "chunked" in headers.get("transfer-encoding", ""):
                body = bytearray()
                while True:
                    size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                    if size == 0:
                        await self.reader.readuntil(b"\r\n")
                        break
                    body += await self.reader.readexactly(size)
                    await self.reader.readexactly(2)
                return status, headers, bytes(body)
            if "content-length" in headers:
                return (
                    status,
                    headers,
                    await self.reader.readexactly(int(headers["content-length"])),
                )
            return status, headers, await self.reader.read()

        return await asyncio.wait_for(go(), 20)

    async def at_eof(self) -> bool:
        data = await asyncio.wait_for(self.reader.read(1), 10)
        return data == b""

    def close(self) -> None:
        self.writer.close()


def get(path: str, token: str | None, *, extra: str = "") -> bytes:
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    return f"GET {path} HTTP/1.1\r\nHost: sidecar\r\n{auth}{extra}\r\n".encode()


def echoed(body: bytes) -> dict[str, Any]:
    return dict(json.loads(body))


async def test_pipelined_requests_are_answered_in_order(proxy: ProxyProcess, token: str) -> None:
    upload = (
        f"POST /upload HTTP/1.1\r\nHost: sidecar\r\nAuthorization: Bearer {token}\r\n"
        "Content-Length: 5\r\n\r\nhello"
    ).encode()
    conn = await Conn.open(proxy)
    try:
        # Four requests in one write: allowed, denied, with a body, allowed.
        await conn.send(
            get("/first", token) + get("/second", None) + upload + get("/fourth", token)
        )
        status, _, body = await conn.response()
        assert (status, echoed(body)["path"]) == (200, "/first")
        status, headers, body = await conn.response()
        assert status == 401
        assert json.loads(body)["reason"] == "missing_token"
        assert headers["www-authenticate"].startswith("Bearer ")
        status, _, body = await conn.response()
        assert (status, json.loads(body)["bytes"]) == (200, 5)
        status, _, body = await conn.response()
        assert (status, echoed(body)["path"]) == (200, "/fourth")
    finally:
        conn.close()


async def test_keep_alive_serves_many_requests_on_one_connection(
    proxy: ProxyProcess, token: str
) -> None:
    conn = await Conn.open(proxy)
    try:
        for i in range(25):
            await conn.send(get(f"/k/{i}", token))
            status, headers, body = await conn.response()
            assert status == 200
            assert echoed(body)["path"] == f"/k/{i}"
            assert headers.get("connection", "").lower() != "close"
        # HEAD has no body even though the upstream sends Content-Length; the next
        # request on the same connection must still be read correctly.
        await conn.send(
            b"HEAD /stream?bytes=5000 HTTP/1.1\r\nHost: s\r\n"
            + f"Authorization: Bearer {token}\r\n\r\n".encode()
        )
        status, headers, _ = await conn.response(head_only=True)
        assert (status, headers["content-length"]) == (200, "5000")
        await conn.send(get("/after-head", token))
        status, _, body = await conn.response()
        assert (status, echoed(body)["path"]) == (200, "/after-head")
    finally:
        conn.close()


async def test_connection_close_is_honoured(proxy: ProxyProcess, token: str) -> None:
    conn = await Conn.open(proxy)
    try:
        await conn.send(get("/bye", token, extra="Connection: close\r\n") + get("/never", token))
        status, headers, _ = await conn.response()
        assert status == 200
        assert headers.get("connection", "").lower() == "close"
        assert await conn.at_eof()
    finally:
        conn.close()


SMUGGLING = {
    "content-length-and-chunked": (
        "POST /upload HTTP/1.1\r\nHost: s\r\nContent-Length: 44\r\n"
        "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: s\r\n\r\n"
    ),
    "duplicate-content-length": (
        "POST /upload HTTP/1.1\r\nHost: s\r\nContent-Length: 0\r\nContent-Length: 41\r\n\r\n"
        "GET /smuggled HTTP/1.1\r\nHost: s\r\n\r\n"
    ),
    "transfer-encoding-not-chunked-last": (
        "POST /upload HTTP/1.1\r\nHost: s\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n"
    ),
    "obs-fold": "GET / HTTP/1.1\r\nHost: s\r\nX-Folded: a\r\n b\r\n\r\n",
    "space-before-colon": "GET / HTTP/1.1\r\nHost: s\r\nX-Bad : a\r\n\r\n",
    "invalid-header-name": "GET / HTTP/1.1\r\nHost: s\r\nX(Bad): a\r\n\r\n",
    "bare-lf": "GET / HTTP/1.1\nHost: s\n\n",
    "invalid-content-length": "POST / HTTP/1.1\r\nHost: s\r\nContent-Length: 1x\r\n\r\n",
    "invalid-chunk-size": (
        "POST /upload HTTP/1.1\r\nHost: s\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"
    ),
}


@pytest.mark.parametrize("raw", SMUGGLING.values(), ids=SMUGGLING.keys())
async def test_ambiguous_or_malformed_requests_get_400_and_close(
    proxy: ProxyProcess, raw: str
) -> None:
    conn = await Conn.open(proxy)
    try:
        await conn.send(raw.encode())
        status, headers, body = await conn.response()
        assert status == 400
        assert headers["connection"].lower() == "close"
        assert json.loads(body)["error"] == "invalid_request"
        assert await conn.at_eof()  # nothing after it is ever parsed as a request
    finally:
        conn.close()


async def test_oversized_head_gets_431(proxy: ProxyProcess, token: str) -> None:
    conn = await Conn.open(proxy)
    try:
        await conn.send(get("/", token, extra=f"X-Big: {'a' * 40000}\r\n"))
        status, _, body = await conn.response()
        assert status == 431
        assert json.loads(body)["reason"] == "headers_too_large"
        assert await conn.at_eof()
    finally:
        conn.close()


async def test_chunked_upload_is_streamed_as_chunked(proxy: ProxyProcess, token: str) -> None:
    chunks = [b"a" * 1000, b"b" * 70000, b"c" * 3]
    body = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"
    head = (
        f"POST /upload HTTP/1.1\r\nHost: s\r\nAuthorization: Bearer {token}\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    ).encode()
    conn = await Conn.open(proxy)
    try:
        await conn.send(head)
        await asyncio.sleep(0.05)  # head first, body later: the body must still arrive
        await conn.send(body)
        status, _, answer = await conn.response()
        assert status == 200
        assert json.loads(answer) == {"bytes": 71003, "transfer_encoding": "chunked"}
    finally:
        conn.close()


async def test_chunked_download_arrives_chunked_and_whole(proxy: ProxyProcess, token: str) -> None:
    conn = await Conn.open(proxy)
    try:
        await conn.send(get("/stream?bytes=300001&chunked=1", token))
        status, headers, body = await conn.response()
        assert status == 200
        assert headers["transfer-encoding"] == "chunked"
        assert "content-length" not in headers
        assert len(body) == 300001
        # The connection stays usable after a chunked answer.
        await conn.send(get("/again", token))
        status, _, body = await conn.response()
        assert (status, echoed(body)["path"]) == (200, "/again")
    finally:
        conn.close()


async def test_http10_client_gets_a_close_delimited_body(proxy: ProxyProcess, token: str) -> None:
    conn = await Conn.open(proxy)
    try:
        await conn.send(
            f"GET /stream?bytes=70000&chunked=1 HTTP/1.0\r\nHost: s\r\n"
            f"Authorization: Bearer {token}\r\n\r\n".encode()
        )
        status, headers, body = await conn.response()
        assert status == 200
        assert "transfer-encoding" not in headers  # HTTP/1.0 has no chunked coding
        assert len(body) == 70000
    finally:
        conn.close()


async def test_slow_reader_gets_back_pressure_not_buffering(
    proxy: ProxyProcess, token: str
) -> None:
    total = 256 * 1024 * 1024
    before = proxy.process.rss_kib()
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port, limit=1 << 16)
    try:
        writer.write(get(f"/stream?bytes={total}", token))
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 20)
        assert head.startswith(b"HTTP/1.1 200")
        # Stop reading for a while: the proxy must pause the upstream instead of
        # buffering the answer (256 MiB) in memory.
        await asyncio.sleep(2.0)
        stalled = proxy.process.rss_kib()
        assert stalled - before < 48 * 1024, (before, stalled)
        received = len(reader._buffer)  # what asyncio already holds counts as read
        reader._buffer.clear()
        while received < total:
            chunk = await asyncio.wait_for(reader.read(1 << 20), 20)
            assert chunk, f"connection closed after {received} bytes"
            received += len(chunk)
        assert received == total
    finally:
        writer.close()


async def test_expect_continue_is_answered_after_auth(proxy: ProxyProcess, token: str) -> None:
    conn = await Conn.open(proxy)
    try:
        await conn.send(
            b"PUT /upload HTTP/1.1\r\nHost: s\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n"
        )
        status, _, _ = await conn.response()
        assert status == 401  # denied before any body was sent: no 100
    finally:
        conn.close()
    conn = await Conn.open(proxy)
    try:
        await conn.send(
            f"PUT /upload HTTP/1.1\r\nHost: s\r\nAuthorization: Bearer {token}\r\n"
            "Content-Length: 4\r\nExpect: 100-continue\r\n\r\n".encode()
        )
        interim = await asyncio.wait_for(conn.reader.readuntil(b"\r\n\r\n"), 10)
        assert interim.startswith(b"HTTP/1.1 100")
        await conn.send(b"data")
        status, _, body = await conn.response()
        assert (status, json.loads(body)["bytes"]) == (200, 4)
    finally:
        conn.close()


@pytest.mark.parametrize("target", ["http://other.example/x", "*"])
async def test_only_origin_form_targets_are_forwarded(
    proxy: ProxyProcess, token: str, target: str
) -> None:
    conn = await Conn.open(proxy)
    try:
        await conn.send(get(target, token))
        status, _, body = await conn.response()
        assert status == 400
        assert json.loads(body)["reason"] == "bad_request_target"
    finally:
        conn.close()

"""The one IdP document fetcher (core/idpfetch.py) against real loopback servers.

Each test serves exact bytes from an asyncio server on 127.0.0.1, so the
framing cases (chunked, close-delimited, oversize, redirects) are the real
wire format, and the TLS cases use the test CA's certificates.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from authgate.core.idpfetch import DocumentFetcher, FetchPolicy
from authgate.core.oidc import MAX_DOCUMENT_BYTES, FetchError

Responder = Callable[[bytes], bytes]


class Canned:
    """An HTTP server answering every request with ``respond(request_head)``."""

    def __init__(self) -> None:
        self.respond: Responder = lambda head: b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"
        self.requests: list[bytes] = []
        self.bodies: list[bytes] = []
        self.server: asyncio.Server | None = None
        self.hold = False

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            self.requests.append(head)
            length = [ln for ln in head.split(b"\r\n") if ln.lower().startswith(b"content-length:")]
            if length:
                self.bodies.append(await reader.readexactly(int(length[0].split(b":")[1])))
            if self.hold:
                await asyncio.sleep(30)
            writer.write(self.respond(head))
            await writer.drain()
        finally:
            writer.close()

    async def start(self, tls: ssl.SSLContext | None = None) -> int:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0, ssl=tls)
        return int(self.server.sockets[0].getsockname()[1])


@contextlib.asynccontextmanager
async def serving() -> AsyncIterator[tuple[Canned, str]]:
    """A server on the test's own loop (fixtures run on the session loop)."""
    server = Canned()
    port = await server.start()
    try:
        yield server, f"http://127.0.0.1:{port}"
    finally:
        assert server.server is not None
        server.server.close()


def answer(head: str, body: bytes = b"") -> Responder:
    return lambda _: head.encode() + b"\r\n\r\n" + body


async def test_content_length_body_and_request_shape() -> None:
    async with serving() as (server, base):
        server.respond = answer("HTTP/1.1 200 OK\r\nContent-Length: 11", b'{"keys":[]}')
        result = await DocumentFetcher(FetchPolicy(user_agent="t/1"))(base + "/jwks?x=1")
        assert (result.status, result.body) == (200, b'{"keys":[]}')
        head = server.requests[0].decode()
        assert head.startswith("GET /jwks?x=1 HTTP/1.1\r\n")
        assert f"Host: {base.removeprefix('http://')}\r\n" in head
        assert "User-Agent: t/1\r\n" in head and "Connection: close\r\n" in head
        assert "Accept-Encoding" not in head and "Cookie" not in head


async def test_form_post_for_the_token_endpoint() -> None:
    async with serving() as (server, base):
        server.respond = answer("HTTP/1.1 400 Bad Request\r\nContent-Length: 2", b"{}")
        fetch = DocumentFetcher(FetchPolicy())
        form = {"grant_type": "authorization_code", "code": "a b&c", "code_verifier": "v"}
        result = await fetch.post_form(base + "/token", form, {"Authorization": "Basic eDp5"})
        assert (result.status, result.body) == (400, b"{}")  # an error answer is returned
        head = server.requests[0].decode()
        assert head.startswith("POST /token HTTP/1.1\r\n")
        assert "Content-Type: application/x-www-form-urlencoded\r\n" in head
        assert "Authorization: Basic eDp5\r\n" in head
        assert server.bodies == [b"grant_type=authorization_code&code=a+b%26c&code_verifier=v"]
        with pytest.raises(FetchError, match=r"POST .*invalid request header"):
            await fetch.post_form(base + "/token", form, {"X-Bad": "a\r\nb"})


async def test_chunked_and_close_delimited_bodies() -> None:
    async with serving() as (server, base):
        server.respond = answer(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked",
            b"3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-T: 1\r\n\r\n",
        )
        fetch = DocumentFetcher(FetchPolicy())
        assert (await fetch(base + "/")).body == b"abcde"
        server.respond = answer("HTTP/1.0 200 OK", b"until-close")
        assert (await fetch(base + "/")).body == b"until-close"
        server.respond = answer(
            "HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1",
            b"k",
        )
        assert (await fetch(base + "/")).body == b"k"


async def test_redirects_are_returned_not_followed() -> None:
    async with serving() as (server, base):
        server.respond = answer(
            f"HTTP/1.1 302 Found\r\nLocation: {base}/elsewhere\r\nContent-Length: 0"
        )
        result = await DocumentFetcher(FetchPolicy())(base + "/.well-known/openid-configuration")
        assert result.status == 302
        assert len(server.requests) == 1  # the Location was never requested


@pytest.mark.parametrize(
    "head, body, message",
    [
        (f"HTTP/1.1 200 OK\r\nContent-Length: {MAX_DOCUMENT_BYTES + 1}", b"", "larger than"),
        ("HTTP/1.1 200 OK", b"x" * (MAX_DOCUMENT_BYTES + 10), "larger than"),
        (
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked",
            f"{MAX_DOCUMENT_BYTES + 1:x}\r\n".encode(),
            "larger than",
        ),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked", b"1_0\r\n", "chunk size"),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked", b"", "transfer coding"),
        ("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 1", b"x", "content coding"),
        ("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2", b"xx", "Content-Length"),
        ("HTTP/1.1 200 OK\r\nX: a\r\n folded", b"", "malformed header"),
        ("SSH-2.0-nope", b"", "not HTTP"),
        ("HTTP/1.1 200 OK\r\nContent-Length: 10", b"short", "closed mid-answer"),
    ],
)
async def test_refused_answers(head: str, body: bytes, message: str) -> None:
    async with serving() as (server, base):
        server.respond = answer(head, body)
        with pytest.raises(FetchError) as info:
            await DocumentFetcher(FetchPolicy())(base + "/jwks")
        assert message in str(info.value)
        assert str(info.value).startswith(f"GET {base}/jwks: ")


async def test_timeout_covers_the_whole_exchange() -> None:
    async with serving() as (server, base):
        server.hold = True
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(FetchError, match=r"no complete answer within 0\.3 s"):
            await DocumentFetcher(FetchPolicy(timeout_seconds=0.3))(base + "/")
        assert loop.time() - started < 5


@pytest.mark.parametrize(
    "url, message",
    [
        ("ftp://127.0.0.1/x", "only http and https"),
        ("http://u:p@127.0.0.1/", "credentials"),
        ("http:///nohost", "no host"),
        ("http://127.0.0.1:1/", "ConnectionRefusedError"),
    ],
)
async def test_bad_urls_and_unreachable_hosts(url: str, message: str) -> None:
    with pytest.raises(FetchError, match=message):
        await DocumentFetcher(FetchPolicy(timeout_seconds=2))(url)


async def test_tls_is_verified_against_the_configured_ca(test_ca: Any) -> None:
    cert, key = test_ca.issue(["127.0.0.1"])
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(str(cert), str(key))
    server = Canned()
    port = await server.start(tls)
    url = f"https://127.0.0.1:{port}/jwks"
    try:
        ok = await DocumentFetcher(FetchPolicy(ca_file=str(test_ca.cert_file)))(url)
        assert ok.status == 200
        pem = test_ca.cert_file.read_text()
        assert (await DocumentFetcher(FetchPolicy(ca_pem=pem))(url)).status == 200
        with pytest.raises(FetchError, match=r"(?i)certificate verify failed"):
            await DocumentFetcher(FetchPolicy())(url)  # system roots only
        wrong = f"https://localhost:{port}/jwks"  # the certificate names 127.0.0.1 only
        with pytest.raises(FetchError, match=r"(?i)certificate"):
            await DocumentFetcher(FetchPolicy(ca_file=str(test_ca.cert_file)))(wrong)
    finally:
        assert server.server is not None
        server.server.close()


def test_a_bad_ca_bundle_fails_at_construction() -> None:
    with pytest.raises((ssl.SSLError, ValueError)):
        DocumentFetcher(FetchPolicy(ca_pem="not a pem"))

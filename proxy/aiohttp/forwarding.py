"""Streaming HTTP forwarding to the upstream.

The proxy never holds a whole body: the request body is handed to the
upstream request as an async iterator over ``request.content`` chunks, and
the upstream response is copied chunk by chunk into a ``StreamResponse``.
Both directions are flow-controlled by aiohttp's readers and transports, so a
1 GiB upload or download runs in constant memory, chunked transfer coding
passes through, and server-sent events reach the client as they are sent.

The request target is forwarded byte-exact (``request.raw_path``), and
hop-by-hop fields (RFC 9110 §7.6.1: ``Connection`` and every field it names,
``Keep-Alive``, ``TE``, ``Trailer``, ``Transfer-Encoding``, ``Upgrade``,
``Proxy-*``) are removed in both directions — on the way in by the core's
header plan, on the way out here.  ``X-Forwarded-For``/``-Proto``/``-Host``
are set from the peer; an incoming chain is extended only when the proxy is
configured to trust it.

Failures map to gateway statuses (RFC 9110 §15.6): connection refused or
unreachable → 502, no response headers within ``read_timeout_seconds`` → 504.
A client that disconnects cancels the handler (``handler_cancellation``),
which closes the upstream connection.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Iterable, Sequence

import aiohttp
from aiohttp import web
from multidict import CIMultiDict
from yarl import URL

from authgate.core.config import UpstreamConfig
from authgate.core.errors import BadGateway, GatewayError, GatewayTimeout, upstream_refused
from authgate.core.headers import HOP_BY_HOP
from authgate.core.upstream import UpstreamTarget

from ..edge import error_answer
from ..upstream_tls import upstream_ssl_context
from .responses import NO_CONTENT_TYPE, UPSTREAM_SERVER, render
from .state import UPSTREAM_SECONDS

log = logging.getLogger("authgate.proxy.aiohttp.forwarding")

__all__ = [
    "create_upstream_session",
    "forward",
    "forwarded_headers",
    "response_headers",
    "upstream_url",
    "wire_value",
]

#: Dropped from the upstream request besides what the core already filtered:
#: we answer ``Expect: 100-continue`` ourselves, and the client library sets
#: framing itself.
_REQUEST_DROP = frozenset({"expect", "transfer-encoding", "content-length"})
_HOP = frozenset(name.lower() for name in HOP_BY_HOP)
_CHUNK = 64 * 1024
#: Bodies up to this size (with a Content-Length) are relayed in one write.
_SMALL_BODY = 64 * 1024


def create_upstream_session(upstream: UpstreamConfig) -> aiohttp.ClientSession:
    """The keep-alive pool to the upstream, transparent by construction:
    no decompression, no cookies, no redirects, no automatic headers; TLS to
    an ``https://`` upstream with the shared verifying context."""
    context = upstream_ssl_context(UpstreamTarget.from_config(upstream))
    connector = aiohttp.TCPConnector(
        ssl=context if context is not None else True,
        limit=upstream.max_connections,
        limit_per_host=0,
        keepalive_timeout=30,
        enable_cleanup_closed=False,
    )
    timeout = aiohttp.ClientTimeout(
        total=None,
        sock_connect=upstream.connect_timeout_seconds,
        sock_read=upstream.read_timeout_seconds,
    )
    return aiohttp.ClientSession(
        connector=connector,
        timeout=timeout,
        auto_decompress=False,
        cookie_jar=aiohttp.DummyCookieJar(),
        skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
        max_line_size=64 * 1024,
        max_field_size=64 * 1024,
    )


def upstream_url(target: UpstreamTarget, raw_target: str) -> URL:
    """The upstream URL: origin, base path, then the client's target byte-exact."""
    return URL(target.origin + target.target(raw_target), encoded=True)


def wire_value(value: str) -> str:
    """A value decoded as Latin-1 (one character per byte, as both engines
    decode heads) re-decoded as UTF-8, so that aiohttp, which writes every head
    as UTF-8, sends the original bytes.  The core has refused request values
    that are not valid UTF-8; a response value that is not is written as
    aiohttp would (the one deliberate difference, tests/conformance/allowlist.yaml)."""
    if value.isascii():
        return value
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


def forwarded_headers(
    headers: Iterable[tuple[str, str]],
    request: web.BaseRequest,
    forwarded: Iterable[tuple[str, str]] = (),
) -> CIMultiDict[str]:
    """The upstream request headers: the gate's list minus framing fields,
    plus ``forwarded`` (the core's ``X-Forwarded-*``, see
    :class:`~authgate.core.forwarding.ForwardingPlan`).  Values keep the
    client's bytes (:func:`wire_value`)."""
    out: CIMultiDict[str] = CIMultiDict()
    for name, value in headers:
        if name.lower() in _REQUEST_DROP:
            continue
        out.add(name, wire_value(value))
    if request.content_length is not None:  # ``0`` too: as the client framed it (lean too)
        out["Content-Length"] = str(request.content_length)
    for name, value in forwarded:
        out.add(name, value)
    return out


#: A ``101`` to a request that did not ask for a websocket (the same on both engines).
UNREQUESTED_SWITCH = BadGateway(
    "the upstream switched protocols unasked", reason="upstream_protocol_switch"
)


def _fail(error: GatewayError) -> web.Response:
    return render(error_answer(error))


def response_headers(
    raw: Iterable[tuple[bytes, bytes]], extra: Sequence[tuple[str, str]] = ()
) -> CIMultiDict[str]:
    """Upstream response headers minus hop-by-hop fields (and those named in
    its ``Connection``), plus ``extra`` (the decision's response headers)."""
    pairs = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in raw]
    named = {
        token.strip().lower()
        for name, value in pairs
        if name.lower() == "connection"
        for token in value.split(",")
    }
    out: CIMultiDict[str] = CIMultiDict()
    for name, value in pairs:
        lower = name.lower()
        if lower in _HOP or lower in named:
            continue
        out.add(name, wire_value(value))
    for name, value in extra:
        out.add(name, value)
    return out


def _mark_server(response: web.StreamResponse, headers: CIMultiDict[str]) -> None:
    """Note what the upstream sent, so :func:`~.responses.suppress_defaults`
    keeps its ``Server`` and removes a ``Content-Type`` only aiohttp added."""
    if "Server" in headers:
        response[UPSTREAM_SERVER] = True
    if "Content-Type" not in headers:
        response[NO_CONTENT_TYPE] = True


async def _small_response(
    upstream: aiohttp.ClientResponse, extra: Sequence[tuple[str, str]]
) -> web.StreamResponse:
    """A small body with a known length: one write for head and body instead
    of three (measured: the per-write syscalls dominated small responses)."""
    try:
        body = await upstream.read()
    except (TimeoutError, aiohttp.ServerTimeoutError):
        return _fail(GatewayTimeout())
    except aiohttp.ClientError:
        return _fail(BadGateway())
    headers = response_headers(upstream.raw_headers, extra)
    headers.popall("Content-Length", None)
    response = web.Response(
        status=upstream.status, reason=upstream.reason, headers=headers, body=body
    )
    _mark_server(response, headers)
    return response


async def _body(request: web.Request) -> AsyncIterator[bytes]:
    async for chunk in request.content.iter_chunked(_CHUNK):
        yield chunk


def _has_body(request: web.Request) -> bool:
    if request.content_length is not None:
        return request.content_length > 0
    return "chunked" in request.headers.get("Transfer-Encoding", "").lower()


async def forward(
    request: web.Request,
    session: aiohttp.ClientSession,
    url: URL,
    headers: CIMultiDict[str],
    extra: Sequence[tuple[str, str]] = (),
) -> web.StreamResponse:
    """Send the request upstream and stream the answer back (with ``extra``
    response fields added, e.g. a refreshed session's ``Set-Cookie``)."""
    started = time.perf_counter()
    try:
        upstream = await session.request(
            request.method,
            url,
            headers=headers,
            data=_body(request) if _has_body(request) else None,
            allow_redirects=False,
            compress=None,
        )
    except aiohttp.ClientConnectorError:
        return _fail(upstream_refused())
    except (TimeoutError, aiohttp.ServerTimeoutError):
        return _fail(GatewayTimeout())
    except aiohttp.ClientError as exc:
        # The type only: messages can quote the URL, whose query may hold a token.
        log.warning("upstream request failed", extra={"error": type(exc).__name__})
        return _fail(BadGateway())
    request[UPSTREAM_SECONDS] = time.perf_counter() - started
    try:
        if upstream.status == 101:
            # Never relay a protocol switch the request did not ask for: the
            # bytes after it would bypass the Gate (RFC 9110 §7.8).
            return _fail(UNREQUESTED_SWITCH)
        length = upstream.content_length
        if length is not None and length <= _SMALL_BODY and request.method != "HEAD":
            return await _small_response(upstream, extra)
        response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
        out_headers = response_headers(upstream.raw_headers, extra)
        response.headers.extend(out_headers)
        _mark_server(response, out_headers)
        await response.prepare(request)
        try:
            async for chunk in upstream.content.iter_any():
                await response.write(chunk)
        except (aiohttp.ClientError, TimeoutError):
            # Headers are gone already: the only honest signal left is to cut
            # the client connection so it sees a truncated body, never a
            # well-formed end of message.
            if request.transport is not None:
                request.transport.close()
            raise
        await response.write_eof()
        return response
    finally:
        upstream.release()

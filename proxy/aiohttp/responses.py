"""Writing the shared edge values with aiohttp.

Every answer the proxy makes itself is an
:class:`~authgate.proxy.edge.EdgeResponse` composed in the shared runtime;
:func:`render` only turns it into a ``web.Response``, so this engine and the
lean one send the same status, fields and body.  :func:`edge_request`
describes an aiohttp request as an :class:`~authgate.proxy.edge.EdgeRequest`
for the ``/apis/auth/`` router.

:func:`suppress_defaults` undoes what aiohttp adds to every response on its
own: ``Server: Python/... aiohttp/...`` (a version banner for scanners,
which the lean engine never sent) — an upstream's own ``Server`` passes
through untouched.
"""

from __future__ import annotations

from aiohttp import hdrs, web

from ..edge import EdgeRequest, EdgeResponse

__all__ = [
    "NO_CONTENT_TYPE",
    "UPSTREAM_SERVER",
    "BareResponse",
    "edge_request",
    "read_bounded",
    "render",
    "suppress_defaults",
]

#: Set on a response that carries the upstream's own ``Server`` field.
UPSTREAM_SERVER = "authgate.upstream_server"
#: Set on a relayed response whose upstream sent no ``Content-Type``.
NO_CONTENT_TYPE = "authgate.no_content_type"


class BareResponse(web.Response):
    """A response without aiohttp's ``Server`` banner, for answers made
    outside the application (a request the parser rejected never reaches
    ``on_response_prepare``)."""

    async def _prepare_headers(self) -> None:
        await super()._prepare_headers()
        self.headers.popall(hdrs.SERVER, None)


def render(answer: EdgeResponse, *, bare: bool = False) -> web.Response:
    """``answer`` as an aiohttp response (aiohttp adds Content-Length);
    ``bare``: a :class:`BareResponse`."""
    response = (BareResponse if bare else web.Response)(status=answer.status, body=answer.body)
    for name, value in answer.headers:
        response.headers.add(name, value)
    if answer.close:
        response.headers[hdrs.CONNECTION] = "close"  # on any version, as lean says it
        response.force_close()
    return response


def edge_request(request: web.BaseRequest) -> EdgeRequest:
    """The request as the shared router sees it (no body yet)."""
    return EdgeRequest.from_head(
        request.method,
        request.raw_path,
        request.raw_headers,
        peer=request.remote or "",
        scheme=request.scheme,
    )


async def read_bounded(request: web.BaseRequest, limit: int) -> bytes | None:
    """At most ``limit`` body bytes, or ``None`` when the body is longer."""
    length = request.content_length
    if length is not None and length > limit:
        return None
    body = b""
    while len(body) <= limit:
        more = await request.content.read(limit + 1 - len(body))
        if not more:
            break
        body += more
    return None if len(body) > limit else body


async def suppress_defaults(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: drop the ``Server`` banner aiohttp added itself,
    the ``Content-Type: application/octet-stream`` it adds to a relayed
    response whose upstream sent none (the client must see what the upstream
    said, not a type it never claimed), and tell an HTTP/1.0 client that
    its connection closes (as the lean engine does)."""
    if not response.get(UPSTREAM_SERVER, False):
        response.headers.popall(hdrs.SERVER, None)
    if response.get(NO_CONTENT_TYPE, False):
        response.headers.popall(hdrs.CONTENT_TYPE, None)
    if request.version == (1, 0) and (
        hdrs.CONNECTION not in response.headers or _asks_close(request)
    ):
        # ``close`` wins over ``keep-alive`` in another Connection field (RFC 9112
        # §9.6); aiohttp's llhttp keeps an HTTP/1.0 connection that has both.
        response.headers[hdrs.CONNECTION] = "close"
        response.force_close()


def _asks_close(request: web.BaseRequest) -> bool:
    return any(
        token.strip().lower() == "close"
        for value in request.headers.getall(hdrs.CONNECTION, ())
        for token in value.split(",")
    )

"""The one fetcher for identity-provider documents (OIDC discovery, JWKS), on plain asyncio.

Both the proxy's key cache and the operator's IdP check fetch the same two
small JSON documents, and both must apply the same policy; this module *is*
that policy, so it is written once:

* **TLS is verified** (``ssl.create_default_context``: ``CERT_REQUIRED`` and
  hostname checking, RFC 6125) against the system roots plus the configured
  extra CA bundle (a file for the proxy, PEM text for the operator).
* **No redirects are followed** — not even to the same host: an issuer's
  discovery document and its JWKS are fetched exactly where configured
  (OIDC Discovery 1.0 §4 names the location), and a ``3xx`` comes back as
  its status, which the core reports as "answered HTTP 302".
* **Bounded**: one deadline for the whole exchange (connect, TLS, head,
  body), a response head of at most :data:`MAX_HEAD_BYTES`, and a body of at
  most :data:`~authgate.core.oidc.MAX_DOCUMENT_BYTES` however it is framed
  (``Content-Length``, chunked or close-delimited, RFC 9112 §6); anything
  larger is refused before it is buffered.
* **Plain**: HTTP/1.1 ``GET`` (and, for browser sign-in's token endpoint,
  a form ``POST``: :meth:`DocumentFetcher.post_form`) with ``Connection: close``, no cookies, no
  proxy environment variables, no content codings (we send no
  ``Accept-Encoding``; an encoded answer is refused), no credentials in URLs.

Why not aiohttp: the fetch runs once at start and then every few minutes,
and pulling aiohttp into a sidecar for it costs ~13 MiB per pod (see
docs/performance.md).  The core stays free of HTTP frameworks; this module
uses only the standard library.  Every failure is a
:class:`~authgate.core.oidc.FetchError` whose message names the URL and the
cause, never a token.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Self
from urllib.parse import urlencode, urlsplit

from .oidc import MAX_DOCUMENT_BYTES, FetchError, FetchResult

__all__ = ["MAX_HEAD_BYTES", "DocumentFetcher", "FetchPolicy", "tls_context"]

#: Status line plus headers of an IdP's answer; far above any real one.
MAX_HEAD_BYTES = 64 * 1024
_MAX_INTERIM = 8  # 1xx answers skipped before the final one (RFC 9110 §15.2)
_MAX_CHUNK_LINE = 1024
_HEX = b"0123456789abcdefABCDEF"


@dataclass(frozen=True, slots=True)
class FetchPolicy:
    """How IdP documents are fetched (the proxy builds it from ``keys``, the
    operator from the provider spec)."""

    timeout_seconds: float = 5.0
    max_bytes: int = MAX_DOCUMENT_BYTES
    ca_file: str | None = None  # an extra PEM bundle on disk (proxy: keys.ca_file)
    ca_pem: str | None = None  # an extra PEM bundle as text (operator: the spec's CA)
    user_agent: str = "authgate"


def tls_context(policy: FetchPolicy) -> ssl.SSLContext:
    """Verification on, system roots plus the policy's extra CA.  Raises
    ``ssl.SSLError``/``ValueError``/``OSError`` when the bundle cannot be loaded."""
    context = ssl.create_default_context()
    if policy.ca_file:
        context.load_verify_locations(cafile=policy.ca_file)
    if policy.ca_pem:
        context.load_verify_locations(cadata=policy.ca_pem)
    return context


class _Refused(Exception):
    """The answer breaks the policy or HTTP/1.1 framing (message says how)."""


@dataclass(frozen=True, slots=True)
class _Target:
    scheme: str
    host: str
    port: int
    request_target: str
    host_header: str


def _target(url: str) -> _Target:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise _Refused("only http and https URLs are fetched")
    if parts.username is not None or parts.password is not None:
        raise _Refused("credentials in the URL are not sent")
    host = parts.hostname
    if not host:
        raise _Refused("the URL has no host")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise _Refused("the URL has an invalid port") from None
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if any(c in target for c in "\r\n ") or not target.isascii():
        raise _Refused("the URL path is not a valid request target")
    shown = f"[{host}]" if ":" in host else host
    default = 443 if parts.scheme == "https" else 80
    host_header = shown if port == default else f"{shown}:{port}"
    return _Target(parts.scheme, host, port, target, host_header)


def _parse_head(head: bytes) -> tuple[int, dict[str, list[str]]]:
    lines = head.decode("latin-1").split("\r\n")
    status_line = lines[0].split(" ", 2)
    if len(status_line) < 2 or not status_line[0].startswith("HTTP/1."):
        raise _Refused("the answer is not HTTP/1.x")
    code = status_line[1]
    if len(code) != 3 or not code.isdigit():
        raise _Refused("the answer has an invalid status code")
    headers: dict[str, list[str]] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip() or line[0] in " \t":
            raise _Refused("the answer has a malformed header line")  # incl. obs-fold
        headers.setdefault(name.lower(), []).append(value.strip(" \t"))
    return int(code), headers


def _content_length(headers: dict[str, list[str]]) -> int | None:
    values = {v.strip() for raw in headers.get("content-length", ()) for v in raw.split(",")}
    if not values:
        return None
    if len(values) != 1 or not next(iter(values)).isdigit():
        raise _Refused("the answer has an invalid Content-Length")  # RFC 9112 §6.3
    return int(values.pop())


def _tokens(headers: dict[str, list[str]], name: str) -> list[str]:
    return [t.strip().lower() for value in headers.get(name, ()) for t in value.split(",")]


class DocumentFetcher:
    """A :data:`~authgate.core.oidc.Fetcher`: ``await fetcher(url)`` →
    :class:`~authgate.core.oidc.FetchResult`.  One connection per fetch
    (they are minutes apart); safe to share between tasks."""

    def __init__(self, policy: FetchPolicy) -> None:
        self.policy = policy
        # A configured bundle is loaded now, so a bad one fails here, not at the
        # first fetch.  Without one the system store is loaded on the first
        # https fetch: parsing it costs ~80 ms and ~1 MiB that an http-only
        # issuer (a cluster-internal IdP) never needs.
        self._tls: ssl.SSLContext | None = (
            tls_context(policy) if policy.ca_file or policy.ca_pem else None
        )

    async def __call__(self, url: str) -> FetchResult:
        return await self.fetch(url)

    async def fetch(self, url: str, headers: Mapping[str, str] | None = None) -> FetchResult:
        """GET ``url``; ``headers`` are added to the request (e.g. a bearer
        token for a non-anonymous issuer); CR/LF in them is refused."""
        return await self._request("GET", url, headers, b"")

    async def post_form(
        self, url: str, form: Mapping[str, str], headers: Mapping[str, str] | None = None
    ) -> FetchResult:
        """POST ``form`` as ``application/x-www-form-urlencoded`` (the token
        endpoint of browser sign-in), under the same policy as a GET."""
        body = urlencode(dict(form)).encode("ascii")
        sent = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
        sent["Content-Length"] = str(len(body))
        return await self._request("POST", url, sent, body)

    async def _request(
        self, method: str, url: str, headers: Mapping[str, str] | None, body: bytes
    ) -> FetchResult:
        extra = ""
        for name, value in (headers or {}).items():
            if any(c in name + value for c in "\r\n\0") or not name.isascii():
                raise FetchError(f"{method} {url}: invalid request header {name!r}")
            extra += f"{name}: {value}\r\n"
        try:
            target = _target(url)
            async with asyncio.timeout(self.policy.timeout_seconds):
                return await self._exchange(target, extra, method, body)
        except _Refused as exc:
            raise FetchError(f"{method} {url}: {exc}") from None
        except TimeoutError:
            raise FetchError(
                f"{method} {url}: no complete answer within {self.policy.timeout_seconds:g} s"
            ) from None
        except asyncio.IncompleteReadError:
            raise FetchError(f"{method} {url}: the connection closed mid-answer") from None
        except asyncio.LimitOverrunError:
            raise FetchError(f"{method} {url}: a response line is too long") from None
        except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
            raise FetchError(f"{method} {url}: {type(exc).__name__}: {exc}") from None

    async def _exchange(
        self, target: _Target, extra_headers: str = "", method: str = "GET", body: bytes = b""
    ) -> FetchResult:
        tls = target.scheme == "https"
        if tls and self._tls is None:
            self._tls = tls_context(self.policy)
        reader, writer = await asyncio.open_connection(
            target.host,
            target.port,
            ssl=self._tls if tls else None,
            server_hostname=target.host if tls else None,
            limit=MAX_HEAD_BYTES,
        )
        try:
            writer.write(
                (
                    f"{method} {target.request_target} HTTP/1.1\r\n"
                    f"Host: {target.host_header}\r\n"
                    # RFC 7517 §8.5: the apiserver serves its JWKS only as jwk-set+json.
                    "Accept: application/json, application/jwk-set+json\r\n"
                    f"User-Agent: {self.policy.user_agent}\r\n"
                    f"{extra_headers}"
                    "Connection: close\r\n\r\n"
                ).encode("latin-1")
                + body
            )
            await writer.drain()
            for _ in range(_MAX_INTERIM + 1):
                status, headers = _parse_head(await self._read_head(reader))
                if status >= 200 or status == 101:
                    break
            else:
                raise _Refused("too many interim (1xx) answers")
            if status == 101:
                raise _Refused("the server switched protocols")
            body = await self._read_body(reader, status, headers)
            etag = headers.get("etag")
            return FetchResult(status=status, body=body, etag=etag[-1] if etag else None)
        finally:
            writer.transport.abort()  # Connection: close; no TLS close_notify wait

    @staticmethod
    async def _read_head(reader: asyncio.StreamReader) -> bytes:
        head = await reader.readuntil(b"\r\n\r\n")
        if len(head) > MAX_HEAD_BYTES:
            raise _Refused(f"the response head is larger than {MAX_HEAD_BYTES} bytes")
        return head[:-4]

    async def _read_body(
        self, reader: asyncio.StreamReader, status: int, headers: dict[str, list[str]]
    ) -> bytes:
        limit = self.policy.max_bytes
        too_big = f"response larger than {limit} bytes"
        if status in (204, 304):
            return b""
        if any(c not in ("", "identity") for c in _tokens(headers, "content-encoding")):
            raise _Refused("the answer uses a content coding we did not ask for")
        transfer = [c for c in _tokens(headers, "transfer-encoding") if c]
        if transfer:
            if transfer != ["chunked"]:
                raise _Refused("the answer uses a transfer coding other than chunked")
            return await self._read_chunked(reader, limit, too_big)
        length = _content_length(headers)
        if length is not None:
            if length > limit:
                raise _Refused(too_big)
            return await reader.readexactly(length)
        body = bytearray()  # close-delimited (RFC 9112 §6.3, last rule)
        while chunk := await reader.read(limit + 1 - len(body)):
            body += chunk
            if len(body) > limit:
                raise _Refused(too_big)
        return bytes(body)

    @staticmethod
    async def _read_chunked(reader: asyncio.StreamReader, limit: int, too_big: str) -> bytes:
        body = bytearray()
        while True:
            line = await reader.readuntil(b"\r\n")
            if len(line) > _MAX_CHUNK_LINE:
                raise _Refused("a chunk-size line is too long")
            size_text = line[:-2].split(b";", 1)[0].strip(b" \t")
            if not 0 < len(size_text) <= 16 or size_text.strip(_HEX):
                raise _Refused("the answer has an invalid chunk size")  # RFC 9112 §7.1
            size = int(size_text, 16)
            if size == 0:
                break
            if len(body) + size > limit:
                raise _Refused(too_big)
            body += await reader.readexactly(size)
            if await reader.readexactly(2) != b"\r\n":
                raise _Refused("a chunk is not terminated by CRLF")
        trailer_bytes = 0
        while (line := await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers: ignored
            trailer_bytes += len(line)
            if trailer_bytes > MAX_HEAD_BYTES:
                raise _Refused("the trailer section is too large")
        return bytes(body)

    async def close(self) -> None:
        """Nothing is pooled; kept so callers can treat every fetcher alike."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

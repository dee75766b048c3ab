"""Byte-level request and response heads for the lean path.

The lean path never builds header objects: the core's :class:`Decision`
already holds the exact header list the upstream may see (client headers
minus identity, hop-by-hop and — unless forwarded — ``Authorization``, plus
the injected identity headers), so the request head is one join.  The
response head is the upstream's head minus hop-by-hop fields (RFC 9110
§7.6.1), with the framing chosen for *our* connection to the client
(RFC 9112 §6: Content-Length passes through, anything else is re-chunked for
HTTP/1.1 clients or delimited by close for HTTP/1.0 ones).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from email.utils import formatdate

from authgate.core.headers import HOP_BY_HOP

__all__ = [
    "RESPONSE_HOP_BY_HOP",
    "http_date",
    "request_head",
    "response_head",
    "status_line",
]

#: Fields that describe one hop only (RFC 9110 §7.6.1): the core's one set,
#: as the lower-case bytes httptools hands over after ``.lower()``.
RESPONSE_HOP_BY_HOP: frozenset[bytes] = frozenset(name.encode("ascii") for name in HOP_BY_HOP)

_REASONS: dict[int, bytes] = {
    100: b"Continue",
    101: b"Switching Protocols",
    200: b"OK",
    204: b"No Content",
    400: b"Bad Request",
    401: b"Unauthorized",
    403: b"Forbidden",
    404: b"Not Found",
    405: b"Method Not Allowed",
    408: b"Request Timeout",
    413: b"Content Too Large",
    431: b"Request Header Fields Too Large",
    500: b"Internal Server Error",
    502: b"Bad Gateway",
    503: b"Service Unavailable",
    504: b"Gateway Timeout",
    505: b"HTTP Version Not Supported",
}


_date_cache: list[object] = [0, b""]


def http_date() -> bytes:
    """The current IMF-fixdate (RFC 9110 §5.6.7), formatted once per second."""
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache[0] = now
        _date_cache[1] = formatdate(now, usegmt=True).encode("ascii")
    value = _date_cache[1]
    assert isinstance(value, bytes)
    return value


def status_line(status: int, reason: bytes | None = None) -> bytes:
    """``HTTP/1.1 <status> <reason>\\r\\n`` (we always answer as HTTP/1.1, RFC 9110 §6.2)."""
    if not reason:
        reason = _REASONS.get(status, b"Unknown")
    return b"HTTP/1.1 %d %s\r\n" % (status, reason)


def request_head(
    method: str,
    target: bytes,
    headers: Iterable[tuple[str, str]],
    extra: Sequence[tuple[bytes, bytes]] = (),
) -> bytes:
    """The upstream request head: method and target byte-exact, then ``headers``
    (already filtered by the core, client ``X-Forwarded-*`` included) and
    ``extra`` (framing, forwarding).

    ``Expect`` never goes up: we answer ``100 Continue`` once the request is
    allowed.  Values are the client's bytes (the engines decode them as
    Latin-1, one character per byte, and the core has refused any that are not
    valid UTF-8), so they go up byte-exact.
    """
    parts = [method.encode("ascii"), b" ", target, b" HTTP/1.1\r\n"]
    for name, value in headers:
        if len(name) == 6 and name[:1] in "eE" and name.lower() == "expect":
            continue  # answered by us after the auth decision
        parts.append(f"{name}: {value}\r\n".encode("latin-1"))
    for bname, bvalue in extra:
        parts.append(bname + b": " + bvalue + b"\r\n")
    parts.append(b"\r\n")
    return b"".join(parts)


def connection_tokens(headers: Iterable[tuple[bytes, bytes]]) -> frozenset[bytes]:
    """Lower-case field names listed in ``Connection`` (RFC 9110 §7.6.1)."""
    names: set[bytes] = set()
    for name, value in headers:
        if name.lower() == b"connection":
            names.update(t.strip().lower() for t in value.split(b",") if t.strip())
    return frozenset(names)


def response_head(
    status: int,
    reason: bytes,
    headers: Sequence[tuple[bytes, bytes]],
    *,
    framing: bytes | None,
    close: bool,
    keep_upgrade: bool = False,
    extra: Sequence[tuple[bytes, bytes]] = (),
    http10: bool = False,
) -> bytes:
    """The response head for the client.

    ``framing`` is ``b"chunked"`` when we re-chunk the body, else ``None``
    (Content-Length, if any, is one of ``headers`` and passes through).
    ``keep_upgrade`` keeps ``Upgrade``/``Connection`` on a 101.  ``extra``
    are fields the decision adds (e.g. a refreshed session's ``Set-Cookie``).
    A response without ``Date`` gets one (RFC 9110 §6.6.1).  An HTTP/1.0
    client whose connection stays open is told so (``Connection:
    keep-alive``, RFC 9112 §9.3), as the aiohttp engine does.
    """
    listed = connection_tokens(headers)
    parts = [status_line(status, reason)]
    dated = False
    for name, value in headers:
        low = name.lower()
        if keep_upgrade and low in (b"upgrade", b"connection"):
            parts.append(name + b": " + value + b"\r\n")
            continue
        if low in RESPONSE_HOP_BY_HOP or low in listed:
            continue
        if low == b"date":
            dated = True
        parts.append(name + b": " + value + b"\r\n")
    if not dated:
        parts.append(b"Date: " + http_date() + b"\r\n")
    for name, value in extra:
        parts.append(name + b": " + value + b"\r\n")
    if framing is not None:
        parts.append(b"Transfer-Encoding: " + framing + b"\r\n")
    if close and not keep_upgrade:
        parts.append(b"Connection: close\r\n")
    elif http10:
        parts.append(b"Connection: keep-alive\r\n")
    parts.append(b"\r\n")
    return b"".join(parts)

"""The client side of a conformance case: raw bytes in, a parsed outcome out.

:func:`exchange` writes the case's bytes on a fresh loopback connection and
reads until the server closes, resets, or stays idle after a complete
response (``open``).  :func:`parse_responses` splits what came back into
responses (interim ``1xx`` included), using the framing rules of RFC 9112 §6.3
(no body for ``HEAD``, ``1xx``, ``204``, ``304``; chunked; Content-Length;
else until close).
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass

__all__ = ["ClientOutcome", "Response", "exchange", "parse_responses"]

#: How long a connection may stay silent after a complete response before we call it "open".
IDLE_SECONDS = 0.25
TOTAL_SECONDS = 8.0


@dataclass(frozen=True)
class Response:
    status: int
    reason: bytes
    version: bytes
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes
    framing: str  # "none", "length", "chunked", "close"

    def values(self, name: bytes) -> list[bytes]:
        low = name.lower()
        return [v for n, v in self.headers if n.lower() == low]


@dataclass(frozen=True)
class ClientOutcome:
    responses: tuple[Response, ...]
    connection: str  # "closed", "open" or "reset"
    garbage: bytes  # bytes that do not parse as a response

    @property
    def final(self) -> Response | None:
        for response in self.responses:
            if response.status >= 200 or response.status == 101:
                return response
        return None

    @property
    def status(self) -> int:
        final = self.final
        return final.status if final is not None else 0


class _Incomplete(Exception):
    pass


def _head(data: bytes, pos: int) -> tuple[bytes, int] | None:
    end = data.find(b"\r\n\r\n", pos)
    if end < 0:
        return None
    return data[pos:end], end + 4


def _chunked(data: bytes, pos: int) -> tuple[bytes, int]:
    body = bytearray()
    while True:
        eol = data.find(b"\r\n", pos)
        if eol < 0:
            raise _Incomplete
        try:
            size = int(data[pos:eol].split(b";")[0].strip(), 16)
        except ValueError as exc:
            raise ValueError("bad chunk size") from exc
        pos = eol + 2
        if size == 0:
            while True:  # trailers up to an empty line
                eol = data.find(b"\r\n", pos)
                if eol < 0:
                    raise _Incomplete
                line, pos = data[pos:eol], eol + 2
                if not line:
                    return bytes(body), pos
        if len(data) < pos + size + 2:
            raise _Incomplete
        body += data[pos : pos + size]
        pos += size + 2


def parse_responses(
    data: bytes, *, head_request: bool, eof: bool
) -> tuple[list[Response], bytes, bool]:
    """``(responses, unparsed rest, complete)``: ``complete`` when the last
    parsed response is whole and nothing is left over."""
    out: list[Response] = []
    pos = 0
    while pos < len(data):
        found = _head(data, pos)
        if found is None:
            return out, data[pos:], False
        head, body_at = found
        line, *fields = head.split(b"\r\n")
        parts = line.split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
            return out, data[pos:], True
        version, status = parts[0], int(parts[1])
        reason = parts[2] if len(parts) > 2 else b""
        headers = tuple((n, v.strip(b" \t")) for n, _, v in (f.partition(b":") for f in fields))
        lower = {n.lower(): v for n, v in headers}
        try:
            if head_request or status < 200 or status in (204, 304):
                body, framing, pos = b"", "none", body_at
            elif b"chunked" in lower.get(b"transfer-encoding", b"").lower():
                body, pos = _chunked(data, body_at)
                framing = "chunked"
            elif b"content-length" in lower:
                length = int(lower[b"content-length"])
                if len(data) < body_at + length:
                    raise _Incomplete
                body, framing, pos = data[body_at : body_at + length], "length", body_at + length
            else:
                if not eof:
                    raise _Incomplete
                body, framing, pos = data[body_at:], "close", len(data)
        except _Incomplete:
            return out, data[pos:], False
        except ValueError:
            return out, data[pos:], True
        out.append(Response(status, reason, version, headers, body, framing))
        if status == 101:
            return out, data[pos:], True
    return out, b"", True


def exchange(port: int, data: bytes, *, head_request: bool = False) -> ClientOutcome:
    """Send ``data`` to 127.0.0.1:``port`` and collect what comes back."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=TOTAL_SECONDS)
    received = bytearray()
    connection = "open"
    deadline = time.monotonic() + TOTAL_SECONDS
    try:
        try:
            sock.sendall(data)
        except OSError:
            pass  # the server may answer (and close) before reading everything
        while time.monotonic() < deadline:
            parsed, rest, complete = parse_responses(
                bytes(received), head_request=head_request, eof=False
            )
            final_seen = complete and not rest and any(r.status >= 200 for r in parsed)
            sock.settimeout(IDLE_SECONDS if final_seen else max(0.05, deadline - time.monotonic()))
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                if final_seen:
                    break
                continue
            except ConnectionResetError:
                connection = "reset"
                break
            if not chunk:
                connection = "closed"
                break
            received += chunk
    finally:
        sock.close()
    responses, rest, _ = parse_responses(
        bytes(received), head_request=head_request, eof=connection != "open"
    )
    return ClientOutcome(tuple(responses), connection, rest)

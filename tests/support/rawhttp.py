"""The one raw-socket HTTP/1.1 client of the suites (hostile, proxy, gateway, faults).

Real clients normalise what an attacker controls (header case, folding,
duplicate framing headers, paths), so every such request is written byte
for byte to a socket and the answer read back until the server closes:
:func:`send_raw` / :func:`request` from blocking code, :func:`raw_request` from
async tests (it also undoes a chunked body).  Both parse with :func:`parse_response`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import socket
import time
from dataclasses import dataclass
from typing import Any

__all__ = [
    "RawResponse",
    "build_request",
    "dechunk",
    "parse_response",
    "raw_request",
    "request",
    "request_head",
    "send_raw",
]


@dataclass(frozen=True)
class RawResponse:
    status: int  # 0: the connection closed without a status line
    headers: tuple[tuple[str, str], ...]
    body: bytes
    raw: bytes

    def header(self, name: str) -> str | None:
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def json(self) -> Any:
        return json.loads(self.body)


def build_request(
    method: str,
    target: str,
    headers: list[tuple[str, str]],
    body: bytes = b"",
    host: str = "127.0.0.1",
) -> bytes:
    """``method target HTTP/1.1`` + Host + headers (+ ``Connection: close`` unless
    the caller set a Connection header) + body.  Names and values go out verbatim."""
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}"]
    names = {n.lower() for n, _ in headers}
    for name, value in headers:
        lines.append(f"{name}: {value}")
    if "connection" not in names:
        lines.append("Connection: close")
    if body and "content-length" not in names and "transfer-encoding" not in names:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def parse_response(raw: bytes) -> RawResponse:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = 0
    if lines and lines[0].startswith("HTTP/"):
        parts = lines[0].split(" ", 2)
        if len(parts) >= 2 and parts[1].isdigit():
            status = int(parts[1])
    headers = tuple(
        (k.strip(), v.strip()) for k, _, v in (line.partition(":") for line in lines[1:]) if k
    )
    return RawResponse(status, headers, body, raw)


def send_raw(
    port: int,
    data: bytes,
    timeout: float = 15.0,
    stop_at_headers: bool = False,
    max_bytes: int = 4 * 1024 * 1024,
) -> RawResponse:
    """Send ``data``; read until EOF (or, with ``stop_at_headers``, until the end
    of the response head — used for ``101 Switching Protocols``)."""
    deadline = time.monotonic() + timeout
    chunks: list[bytes] = []
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer (e.g. 431) and close before reading everything
        total = 0
        while time.monotonic() < deadline and total < max_bytes:
            sock.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            except TimeoutError:
                break
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if stop_at_headers and b"\r\n\r\n" in b"".join(chunks):
                break
    return parse_response(b"".join(chunks))


def request(
    port: int,
    method: str,
    target: str,
    headers: list[tuple[str, str]],
    body: bytes = b"",
    timeout: float = 15.0,
) -> RawResponse:
    return send_raw(port, build_request(method, target, headers, body), timeout=timeout)


def request_head(method: str, target: str, port: int, headers: list[tuple[str, str]]) -> bytes:
    """A request head with ``Connection: close`` always first, then ``headers`` verbatim:
    unlike :func:`build_request`, a caller's own ``Connection`` field (hop-by-hop tests)
    is sent beside it, so the server still closes after answering."""
    lines = [f"{method} {target} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def raw_request(
    port: int, head: bytes, body: bytes = b"", timeout: float = 10.0
) -> RawResponse:
    """Send bytes exactly as given (for duplicate/odd headers and raw targets)
    and read one response to EOF (``Connection: close`` is expected in ``head``);
    a chunked body comes back decoded."""

    async def go() -> RawResponse:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(head + body)
            await writer.drain()
            data = await reader.read()
        finally:
            writer.close()
        resp = parse_response(data)
        if "chunked" in (resp.header("Transfer-Encoding") or "").lower():
            resp = dataclasses.replace(resp, body=dechunk(resp.body))
        return resp

    return await asyncio.wait_for(go(), timeout)


def dechunk(data: bytes) -> bytes:
    """The payload of a chunked body (extensions and trailers dropped)."""
    out = bytearray()
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out += data[:size]
        data = data[size + 2 :]
    return bytes(out)

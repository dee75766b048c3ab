"""A recording upstream on loopback: every request an engine forwards, as bytes.

It speaks just enough HTTP/1.1 to be a keep-alive origin (Content-Length and
chunked request bodies), records each request's line, header fields and
decoded body exactly as received, and answers with :attr:`reply`, which a
case sets before it runs (a ``103`` before the final answer, a response
without ``Content-Type``, hop-by-hop fields ...).  Anything it cannot parse
is recorded as ``unparsed`` and the connection is closed.
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field

from tests.support.sockserver import SocketServer

__all__ = ["DEFAULT_REPLY", "Forwarded", "RecordingUpstream"]

DEFAULT_REPLY = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n"
    b"Date: Thu, 01 Jan 2026 00:00:00 GMT\r\n\r\nok"
)


@dataclass(frozen=True)
class Forwarded:
    """One request as the upstream received it."""

    line: bytes
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes
    framing: str  # "none", "length" or "chunked"
    unparsed: bytes = b""

    def values(self, name: bytes) -> list[bytes]:
        low = name.lower()
        return [v for n, v in self.headers if n.lower() == low]


class _Broken(Exception):
    pass


@dataclass
class RecordingUpstream(SocketServer):
    reply: bytes = DEFAULT_REPLY
    requests: list[Forwarded] = field(default_factory=list)
    connections: int = 0

    def start(self) -> RecordingUpstream:
        self._lock = threading.Lock()
        return super().start()

    def reset(self, reply: bytes = DEFAULT_REPLY) -> None:
        with self._lock:
            self.requests = []
            self.reply = reply

    def handle(self, conn: socket.socket) -> None:
        conn.settimeout(30)
        buf = bytearray()
        try:
            while True:
                try:
                    record, close = self._one(conn, buf)
                except (_Broken, ValueError):
                    if buf:
                        self._record(Forwarded(b"", (), b"", "none", bytes(buf)))
                    return
                self._record(record)
                with self._lock:
                    reply = self.reply
                if record.line.startswith(b"HEAD "):
                    reply = reply.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"  # no body
                conn.sendall(reply)
                if close or b"connection: close" in reply.lower():
                    return
        except OSError:
            return
        finally:
            conn.close()

    def _record(self, record: Forwarded) -> None:
        with self._lock:
            self.requests.append(record)

    @staticmethod
    def _fill(conn: socket.socket, buf: bytearray) -> None:
        chunk = conn.recv(65536)
        if not chunk:
            raise _Broken
        buf += chunk

    def _line(self, conn: socket.socket, buf: bytearray) -> bytes:
        while b"\r\n" not in buf:
            self._fill(conn, buf)
        line, _, rest = bytes(buf).partition(b"\r\n")
        buf[:] = rest
        return line

    def _exact(self, conn: socket.socket, buf: bytearray, n: int) -> bytes:
        while len(buf) < n:
            self._fill(conn, buf)
        data = bytes(buf[:n])
        del buf[:n]
        return data

    def _one(self, conn: socket.socket, buf: bytearray) -> tuple[Forwarded, bool]:
        while b"\r\n\r\n" not in buf:
            self._fill(conn, buf)
        head, _, rest = bytes(buf).partition(b"\r\n\r\n")
        buf[:] = rest
        line, *fields = head.split(b"\r\n")
        headers: list[tuple[bytes, bytes]] = []
        for raw in fields:
            name, sep, value = raw.partition(b":")
            if not sep:
                raise _Broken
            headers.append((name, value.strip(b" \t")))
        lower = {n.lower(): v for n, v in headers}
        close = b"close" in lower.get(b"connection", b"").lower() or line.endswith(b"HTTP/1.0")
        if b"chunked" in lower.get(b"transfer-encoding", b"").lower():
            body = bytearray()
            while True:
                size = int(self._line(conn, buf).split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self._line(conn, buf):  # trailers
                        pass
                    break
                body += self._exact(conn, buf, size)
                self._line(conn, buf)
            return Forwarded(line, tuple(headers), bytes(body), "chunked"), close
        if b"content-length" in lower:
            length = int(lower[b"content-length"])
            return Forwarded(line, tuple(headers), self._exact(conn, buf, length), "length"), close
        return Forwarded(line, tuple(headers), b"", "none"), close

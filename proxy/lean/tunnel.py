"""Splicing an upgraded connection, and closing WebSockets politely on drain.

After the upstream answers ``101 Switching Protocols`` (RFC 9110 §15.2.2) the
lean path stops parsing HTTP and copies bytes both ways unchanged: frames,
masking, extensions and close codes pass exactly as the endpoints sent them.
The one thing a proxy must add is a clean shutdown: on SIGTERM we owe the
client a WebSocket close with code 1001 "going away" (RFC 6455 §7.4.1).
Injecting a frame into a byte stream is only safe at a frame boundary, so
:class:`FrameTracker` follows the server→client frame headers (RFC 6455 §5.2)
without buffering payloads.
"""

from __future__ import annotations

__all__ = ["CLOSE_GOING_AWAY", "FrameTracker"]

#: A server-to-client (unmasked) close frame carrying status 1001.
CLOSE_GOING_AWAY = b"\x88\x02\x03\xe9"


class FrameTracker:
    """Follows WebSocket frame boundaries in one direction of a stream."""

    __slots__ = ("_hdr", "_remaining")

    def __init__(self) -> None:
        self._remaining = 0
        self._hdr = bytearray()

    @property
    def at_boundary(self) -> bool:
        """True when the bytes fed so far end exactly between two frames."""
        return self._remaining == 0 and not self._hdr

    def _header_len(self) -> int:
        hdr = self._hdr
        if len(hdr) < 2:
            return 2
        short = hdr[1] & 0x7F
        ext = 2 if short == 126 else 8 if short == 127 else 0
        return 2 + ext + (4 if hdr[1] & 0x80 else 0)

    def feed(self, data: bytes) -> None:
        i, n = 0, len(data)
        hdr = self._hdr
        while i < n:
            if self._remaining:
                take = min(self._remaining, n - i)
                self._remaining -= take
                i += take
                continue
            need = self._header_len() - len(hdr)
            take = min(need, n - i)
            hdr += data[i : i + take]
            i += take
            if len(hdr) == self._header_len():
                short = hdr[1] & 0x7F
                if short == 126:
                    self._remaining = int.from_bytes(hdr[2:4], "big")
                elif short == 127:
                    self._remaining = int.from_bytes(hdr[2:10], "big")
                else:
                    self._remaining = short
                hdr.clear()

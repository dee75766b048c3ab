"""Pure pieces of the lean path: head rewriting and WebSocket frame tracking.

These run without processes; the behaviour they feed is covered end to end in
``test_lean_protocol.py`` and the engine-parametrized proxy suite.
"""

from __future__ import annotations

import os

import pytest

from authgate.proxy.lean.rewrite import request_head, response_head
from authgate.proxy.lean.tunnel import CLOSE_GOING_AWAY, FrameTracker


def frame(payload: bytes, *, masked: bool = False, opcode: int = 0x2) -> bytes:
    """An RFC 6455 §5.2 frame (FIN set) with the shortest length encoding."""
    n = len(payload)
    mask_bit = 0x80 if masked else 0
    if n < 126:
        head = bytes([0x80 | opcode, mask_bit | n])
    elif n < 1 << 16:
        head = bytes([0x80 | opcode, mask_bit | 126]) + n.to_bytes(2, "big")
    else:
        head = bytes([0x80 | opcode, mask_bit | 127]) + n.to_bytes(8, "big")
    if masked:
        key = os.urandom(4)
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
        head += key
    return head + payload


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 200_000])
@pytest.mark.parametrize("masked", [False, True])
def test_frame_tracker_finds_boundaries_at_any_split(size: int, masked: bool) -> None:
    stream = frame(b"p" * size, masked=masked) + frame(b"q" * 3, masked=masked)
    first_end = len(stream) - len(frame(b"q" * 3, masked=masked))
    # Feed in awkward pieces: single bytes through the header, then big slices.
    cuts = sorted({1, 2, 3, 5, 9, 13, first_end - 1, first_end, first_end + 1, len(stream)})
    tracker = FrameTracker()
    start = 0
    for cut in cuts:
        if cut <= start or cut > len(stream):
            continue
        tracker.feed(stream[start:cut])
        start = cut
        assert tracker.at_boundary == (cut in (first_end, len(stream))), cut


def test_close_going_away_is_a_server_close_frame_with_1001() -> None:
    assert CLOSE_GOING_AWAY[0] == 0x88  # FIN + opcode 8 (close)
    assert CLOSE_GOING_AWAY[1] == 2  # unmasked, two payload bytes
    assert int.from_bytes(CLOSE_GOING_AWAY[2:4], "big") == 1001


def test_response_head_drops_hop_by_hop_and_connection_listed_fields() -> None:
    head = response_head(
        200,
        b"OK",
        [
            (b"Content-Length", b"5"),
            (b"Connection", b"keep-alive, X-Secret-Hop"),
            (b"X-Secret-Hop", b"1"),
            (b"Keep-Alive", b"timeout=5"),
            (b"Transfer-Encoding", b"chunked"),
            (b"Upgrade", b"h2c"),
            (b"Proxy-Authenticate", b"Basic"),
            (b"X-Kept", b"yes"),
        ],
        framing=None,
        close=False,
    )
    lines = head.split(b"\r\n")
    assert lines[0] == b"HTTP/1.1 200 OK"
    names = {line.split(b":", 1)[0].lower() for line in lines[1:] if line}
    # Date is added when the upstream sent none, as the aiohttp engine does (RFC 9110 §6.6.1).
    assert names == {b"content-length", b"x-kept", b"date"}
    assert head.endswith(b"\r\n\r\n")


def test_response_head_adds_our_framing_and_close() -> None:
    head = response_head(200, b"OK", [(b"X-A", b"1")], framing=b"chunked", close=True)
    assert b"\r\nTransfer-Encoding: chunked\r\n" in head
    assert b"\r\nConnection: close\r\n" in head


def test_switching_protocols_keeps_upgrade_and_connection() -> None:
    head = response_head(
        101,
        b"Switching Protocols",
        [(b"Upgrade", b"websocket"), (b"Connection", b"Upgrade"), (b"Sec-WebSocket-Accept", b"x")],
        framing=None,
        close=False,
        keep_upgrade=True,
    )
    assert b"\r\nUpgrade: websocket\r\n" in head
    assert b"\r\nConnection: Upgrade\r\n" in head
    assert b"\r\nSec-WebSocket-Accept: x\r\n" in head


def test_request_head_is_byte_exact_and_adds_extra_fields() -> None:
    # the core has filtered the list already (client X-Forwarded-* included)
    head = request_head(
        "GET",
        b"/a%2Fb?x=1&y=%20",
        [
            ("Host", "svc"),
            ("Expect", "100-continue"),
            ("X-NMP-Principal-Id", "alice"),
            ("X-Name", "j\xc3\xb3zef"),
        ],
        [(b"X-Forwarded-For", b"127.0.0.1")],
    )
    assert head.startswith(b"GET /a%2Fb?x=1&y=%20 HTTP/1.1\r\n")
    assert b"Expect" not in head
    assert b"\r\nX-NMP-Principal-Id: alice\r\n" in head
    assert b"\r\nX-Name: j\xc3\xb3zef\r\n" in head  # the client's bytes
    assert b"\r\nX-Forwarded-For: 127.0.0.1\r\n" in head

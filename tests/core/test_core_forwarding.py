"""The core's HTTP rules both engines call: X-Forwarded-* with trusted proxies,
HTTP versions, header values, repeated singleton fields and the query (issue 11)."""

from __future__ import annotations

import pytest

from authgate.core.config import HeaderConfig
from authgate.core.errors import InvalidRequest, VersionNotSupported
from authgate.core.forwarding import ForwardingPlan, peer_trusted
from authgate.core.gate import check_version
from authgate.core.headers import HeaderPlan

PLAN = HeaderPlan.compile(HeaderConfig())
UNTRUSTED = ForwardingPlan(True, ())
TRUSTED = ForwardingPlan(True, ("10.0.0.0/8", "::1/128"))
SPOOF = [
    ("Host", "app.example"),
    ("X-Forwarded-For", "6.6.6.6, 7.7.7.7"),
    ("X-Forwarded-For", "8.8.8.8"),
    ("X-Forwarded-Host", "evil.example"),
    ("X-Forwarded-Proto", "https"),
]


def test_untrusted_peer_values_are_replaced() -> None:
    assert UNTRUSTED.values("192.0.2.1", "http", SPOOF) == [
        ("X-Forwarded-For", "192.0.2.1"),
        ("X-Forwarded-Proto", "http"),
        ("X-Forwarded-Host", "app.example"),
    ]


def test_trusted_peer_chain_is_appended_to() -> None:
    assert TRUSTED.values("10.1.2.3", "http", SPOOF) == [
        ("X-Forwarded-For", "6.6.6.6, 7.7.7.7, 8.8.8.8, 10.1.2.3"),
        ("X-Forwarded-Proto", "https"),
        ("X-Forwarded-Host", "evil.example"),
    ]


def test_trusted_peer_without_forwarding_fields_is_described_as_seen() -> None:
    assert TRUSTED.values("::1", "https", [("Host", "h")]) == [
        ("X-Forwarded-For", "::1"),
        ("X-Forwarded-Proto", "https"),
        ("X-Forwarded-Host", "h"),
    ]


def test_no_host_no_forwarded_host_and_controls_removed() -> None:
    out = TRUSTED.values("10.0.0.1", "http", [("X-Forwarded-For", "1.1.1.1\x00\r\nX: y")])
    assert out == [("X-Forwarded-For", "1.1.1.1X: y, 10.0.0.1"), ("X-Forwarded-Proto", "http")]


def test_disabled_sets_nothing() -> None:
    assert ForwardingPlan(False, ("0.0.0.0/0",)).values("1.2.3.4", "http", SPOOF) == []


@pytest.mark.parametrize(
    ("peer", "trusted"),
    [("10.9.9.9", True), ("::ffff:10.0.0.1", True), ("11.0.0.1", False), ("junk", False)],
)
def test_peer_trusted(peer: str, trusted: bool) -> None:
    assert peer_trusted(peer, ("10.0.0.0/8",)) is trusted
    assert peer_trusted(peer, ()) is False


def test_versions() -> None:
    check_version((1, 0), [("Host", "h")])
    with pytest.raises(VersionNotSupported) as exc:
        check_version((2, 0), [])
    assert exc.value.status == 505
    with pytest.raises(InvalidRequest, match=r"0\.9"):
        check_version((0, 9), [])
    with pytest.raises(InvalidRequest) as bad:
        check_version((1, 0), [("Transfer-Encoding", "chunked")])
    assert bad.value.reason == "bad_framing"


def test_header_values_must_be_utf8() -> None:
    utf8 = "józef".encode().decode("latin-1")  # as the engines decode the wire
    assert PLAN.scan([("X-Name", utf8)])[0] == [("X-Name", utf8)]
    with pytest.raises(InvalidRequest) as exc:
        PLAN.scan([("X-Name", "jos\xe9")])  # a lone Latin-1 byte
    assert exc.value.reason == "invalid_header_value"


@pytest.mark.parametrize("second", ["User-Agent", "user_agent", "USER-AGENT"])
def test_repeated_singleton_refused(second: str) -> None:
    with pytest.raises(InvalidRequest) as exc:
        PLAN.scan([("User-Agent", "a"), (second, "b")])
    assert exc.value.reason == "duplicate_header"
    assert PLAN.scan([("Accept", "a"), ("Accept", "b")])[0] == [("Accept", "a"), ("Accept", "b")]

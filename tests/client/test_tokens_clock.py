"""Token sets, unverified claims and clock-offset detection (pure)."""

from __future__ import annotations

import base64
import json

from authgate.client.clock import (
    human_duration,
    offset_from_date_header,
    offset_from_iat,
    skew_warning,
)
from authgate.client.tokens import TokenSet, claims, identity


def jwt(payload: dict[str, object]) -> str:
    def part(value: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'RS256'})}.{part(payload)}.sig"


def test_expiry_from_expires_in_uses_local_clock() -> None:
    tokens = TokenSet.from_response(
        {"access_token": jwt({"exp": 1}), "expires_in": 300}, grant="password", now=1000.0
    )
    assert tokens.expires_at == 1300.0
    assert not tokens.expires_within(60, now=1200.0)
    assert tokens.expires_within(300, now=1200.0)


def test_expiry_falls_back_to_exp() -> None:
    tokens = TokenSet.from_response(
        {"access_token": jwt({"exp": 5000})}, grant="device", now=1000.0
    )
    assert tokens.expires_at == 5000.0


def test_rotation_keeps_old_refresh_token_when_absent() -> None:
    old = TokenSet(access_token="a", refresh_token="r1", grant="device")
    assert old.with_refresh(TokenSet(access_token="b")).refresh_token == "r1"
    rotated = old.with_refresh(TokenSet(access_token="b", refresh_token="r2"))
    assert rotated.refresh_token == "r2" and rotated.grant == "device"


def test_claims_of_garbage_are_empty() -> None:
    assert claims("opaque-token") == {}
    assert claims("a.!!!.c") == {}
    assert claims(jwt({"sub": "x"})) == {"sub": "x"}


def test_identity_prefers_email() -> None:
    tokens = TokenSet(access_token=jwt({"sub": "123", "email": "a@x.io"}))
    assert identity(tokens) == "a@x.io"


def test_clock_offsets() -> None:
    token = jwt({"iat": 10_000})
    assert offset_from_iat(token, now=13_600) == 3600
    assert skew_warning(3600.0) is not None and "1h 0m ahead of" in str(skew_warning(3600.0))
    assert skew_warning(-30.0) is None
    assert skew_warning(None) is None
    assert offset_from_date_header("Thu, 01 Jan 1970 00:00:10 GMT", now=0.0) == -10.0
    assert offset_from_date_header("garbage", now=0.0) is None


def test_human_duration() -> None:
    assert human_duration(59.6) == "1m 0s"
    assert human_duration(3725) == "1h 2m"
    assert human_duration(90000) == "1d 1h"


def test_margin_capped_at_half_lifetime_for_short_tokens() -> None:
    short = TokenSet(access_token="a", obtained_at=1000.0, expires_at=1300.0)  # 5 min token
    assert not short.expires_within(300, now=1001.0)  # fresh: no renewal on every call
    assert short.expires_within(300, now=1151.0)  # past half its life: renew
    long = TokenSet(access_token="a", obtained_at=0.0, expires_at=3600.0)
    assert not long.expires_within(300, now=3299.0)
    assert long.expires_within(300, now=3301.0)
    unknown_start = TokenSet(access_token="a", expires_at=1300.0)
    assert unknown_start.expires_within(300, now=1001.0)

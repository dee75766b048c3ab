"""Sealed values, key rotation, chunking, cookie attributes and the CSRF rule."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from authgate.core.session.cookies import (
    CookiePolicy,
    csrf_allowed,
    request_origin,
    strip_owned_cookies,
)
from authgate.core.session.crypto import (
    Keyring,
    KeyringSource,
    SessionInvalid,
    SessionKey,
    generate_key_material,
    join_chunks,
    load_keyring_dir,
    parse_cookie_header,
    parse_key_material,
    split_value,
)

K1 = SessionKey("k1", b"\x01" * 32)
K2 = SessionKey("k2", b"\x02" * 32)


def reason(ring: Keyring, value: str, purpose: str = "session", now: float = 100.0) -> str:
    with pytest.raises(SessionInvalid) as info:
        ring.open(purpose, value, now=now)
    return info.value.reason


def test_round_trip_and_expiry() -> None:
    ring = Keyring(K1)
    sealed = ring.seal("session", {"sub": "alice"}, expires_at=200)
    assert sealed.startswith("k1.")
    assert "alice" not in sealed
    assert ring.open("session", sealed, now=199)["sub"] == "alice"
    assert reason(ring, sealed, now=200) == "expired"


def test_tampered_truncated_and_foreign_values_are_refused() -> None:
    ring = Keyring(K1)
    sealed = ring.seal("session", {"sub": "alice"}, expires_at=200)
    kid, data = sealed.split(".")
    flipped = data[:10] + ("A" if data[10] != "A" else "B") + data[11:]
    assert reason(ring, f"{kid}.{flipped}") == "bad_seal"
    assert reason(ring, sealed[:-5]) in {"bad_seal", "malformed"}
    assert reason(ring, sealed[:8]) == "malformed"
    assert reason(ring, "garbage") == "malformed"
    assert reason(ring, "k1.%%%") == "malformed"
    assert reason(ring, "") == "malformed"
    assert reason(ring, "k1." + "A" * 40000) == "malformed"
    assert reason(ring, sealed, purpose="login") == "bad_seal"  # purpose is authenticated
    assert reason(ring, "k2" + sealed[2:]) == "unknown_key"
    other = Keyring(SessionKey("k1", b"\x09" * 32))
    assert reason(other, sealed) == "bad_seal"


def test_rotation_overlap_then_retirement() -> None:
    old = Keyring(K1)
    cookie = old.seal("session", {"sub": "alice"}, expires_at=200)
    overlap = Keyring(K2, [K1])
    assert overlap.open("session", cookie, now=100)["sub"] == "alice"
    assert overlap.seal("session", {}, expires_at=200).startswith("k2.")
    retired = Keyring(K2)
    assert reason(retired, cookie) == "unknown_key"


def test_key_material_and_directory(tmp_path: Path) -> None:
    text = generate_key_material()
    assert len(parse_key_material(text)) == 32
    with pytest.raises(ValueError):
        parse_key_material("c2hvcnQ=")
    (tmp_path / "k1").write_text(generate_key_material())
    (tmp_path / "k2").write_text(generate_key_material() + "\n")
    (tmp_path / "current").write_text("k1\n")
    (tmp_path / "..data").mkdir()
    ring = load_keyring_dir(str(tmp_path))
    assert ring.current.kid == "k1" and set(ring.kids) == {"k1", "k2"}
    (tmp_path / "current").write_text("k9")
    with pytest.raises(ValueError, match="k9"):
        load_keyring_dir(str(tmp_path))
    os.remove(tmp_path / "current")
    assert load_keyring_dir(str(tmp_path)).current.kid == "k2"
    with pytest.raises(ValueError, match="no session keys"):
        load_keyring_dir(str(tmp_path / "..data"))


def test_keyring_source_follows_rotation(tmp_path: Path) -> None:
    now = [0.0]
    (tmp_path / "k1").write_text(generate_key_material())
    (tmp_path / "current").write_text("k1")
    source = KeyringSource(str(tmp_path), interval=1.0, clock=lambda: now[0])
    assert source.get().current.kid == "k1"
    (tmp_path / "k2").write_text(generate_key_material())
    (tmp_path / "current").write_text("k2")
    assert source.get().current.kid == "k1"  # not polled again yet
    now[0] = 2.0
    assert source.get().current.kid == "k2" and "k1" in source.get().kids
    (tmp_path / "current").write_text("missing")
    now[0] = 4.0
    assert source.get().current.kid == "k2" and source.last_error


def test_chunks() -> None:
    assert split_value("s", "abc") == [("s", "abc")]
    parts = split_value("s", "x" * 9000, chunk=3800)
    assert [n for n, _ in parts] == ["s-0", "s-1", "s-2"]
    jar = dict(parts)
    assert join_chunks("s", jar) == "x" * 9000
    del jar["s-1"]
    assert join_chunks("s", jar) == "x" * 3800  # a gap ends the value; opening it then fails
    assert join_chunks("s", {}) is None
    with pytest.raises(ValueError):
        split_value("s", "x" * 100_000)


def test_cookie_header_parsing_and_stripping() -> None:
    jar = parse_cookie_header(['a=1; __Host-authgate-session-0=xx; b="2"', "a=3"])
    assert jar == {"a": "1", "__Host-authgate-session-0": "xx", "b": "2"}
    policy = CookiePolicy()
    kept = strip_owned_cookies(
        policy, ["a=1; __Host-authgate-session=s; authgate-login-abc=l; theme=dark"]
    )
    assert kept == "a=1; theme=dark"
    assert strip_owned_cookies(policy, ["__Secure-authgate-session-1=x"]) is None


def test_cookie_attributes() -> None:
    https = request_origin("app.example.com", insecure_loopback=True)
    assert https is not None and https.secure
    policy = CookiePolicy()
    assert policy.session_name(https) == "__Host-authgate-session"
    cookie = policy.set_cookie(https, "__Host-authgate-session", "v", 60)
    assert cookie == "__Host-authgate-session=v; Path=/; Max-Age=60; HttpOnly; SameSite=Lax; Secure"
    domain = CookiePolicy(domain="example.com")
    assert domain.session_name(https) == "__Secure-authgate-session"
    assert "Domain=example.com" in domain.set_cookie(https, "n", "v", 1)
    dev = request_origin("127.0.0.1:8080", insecure_loopback=True)
    assert dev is not None and not dev.secure and dev.origin == "http://127.0.0.1:8080"
    assert policy.session_name(dev) == "authgate-session"
    assert "Secure" not in policy.set_cookie(dev, "authgate-session", "v", 1)
    prod_loopback = request_origin("127.0.0.1:8080", insecure_loopback=False)
    assert prod_loopback is not None and prod_loopback.secure
    for bad in (None, "", "evil.example/path", "a b", "host:99999", "x@y"):
        assert request_origin(bad, insecure_loopback=False) is None


@pytest.mark.parametrize(
    ("method", "site", "origin", "ok"),
    [
        ("GET", "cross-site", "https://evil.example", True),  # safe methods pass
        ("POST", "same-origin", None, True),
        ("POST", "same-origin", "https://app.example.com", True),
        ("POST", "none", None, True),
        ("POST", "cross-site", "https://evil.example", False),
        ("POST", "same-site", "https://sub.example.com", False),
        ("POST", "same-site", "https://trusted.example.com", True),
        ("DELETE", None, "https://app.example.com", True),
        ("PUT", None, "https://evil.example", False),
        ("POST", None, None, False),
        ("POST", None, "null", False),
        ("PATCH", "cross-site", None, False),
    ],
)
def test_csrf(method: str, site: str | None, origin: str | None, ok: bool) -> None:
    here = request_origin("app.example.com", insecure_loopback=False)
    assert here is not None
    trusted = frozenset({"https://trusted.example.com"})
    assert csrf_allowed(method, here, site, origin, trusted) is ok

"""KeyCache: discovery, single-flight refetch for unknown kids with cooldown
and negative cache, stale keys kept for a bounded time, then fail closed."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest

from authgate.core.config import KeyConfig
from authgate.core.errors import InvalidToken
from authgate.core.keys import KeyCache, KeyFetchError
from authgate.core.oidc import (
    DiscoveryError,
    FetchResult,
    fetch_provider_metadata,
    parse_jwks,
)
from tests.support.fetchers import MemoryIdP

from .core_helpers import FAST_KEYS, ISSUER, Clock


async def test_start_loads_keys_and_metadata(idp: MemoryIdP) -> None:
    cache = KeyCache(ISSUER, idp, FAST_KEYS)
    assert not cache.ready
    await cache.start()
    try:
        assert cache.ready
        assert cache.key_count == 3
        assert cache.metadata is not None
        assert cache.metadata.token_endpoint == ISSUER + "/protocol/openid-connect/token"
        assert cache.fetches == 1 and cache.fetch_failures == 0
        assert (await cache.get("ec1", "ES256")).kty == "EC"
    finally:
        await cache.close()


async def test_start_with_idp_down_is_not_ready(idp: MemoryIdP) -> None:
    idp.up = False
    cache = KeyCache(ISSUER, idp, FAST_KEYS)
    await cache.start()
    try:
        assert not cache.ready
        assert cache.fetch_failures == 1
        with pytest.raises(InvalidToken) as info:
            await cache.get("rsa1", "RS256")
        assert info.value.reason == "keys_unavailable"
    finally:
        await cache.close()


async def test_discovery_issuer_must_match_exactly(idp: MemoryIdP) -> None:
    idp.discovery_issuer = ISSUER + "/"
    with pytest.raises(DiscoveryError, match="exact match"):
        await fetch_provider_metadata(ISSUER, idp)
    cache = KeyCache(ISSUER, idp, FAST_KEYS)
    with pytest.raises(KeyFetchError):
        await cache.refresh()
    assert not cache.ready


async def test_unknown_kid_flood_causes_one_fetch_per_cooldown(idp: MemoryIdP) -> None:
    clock = Clock()
    cache = KeyCache(ISSUER, idp, FAST_KEYS, clock=clock)
    await cache.refresh()
    assert idp.jwks_calls == 1

    async def attempt(kid: str) -> str:
        try:
            await cache.get(kid, "RS256")
        except InvalidToken as exc:
            return exc.reason
        return "ok"

    reasons = await asyncio.gather(*(attempt(uuid.uuid4().hex) for _ in range(500)))
    assert set(reasons) == {"unknown_kid"}
    assert idp.jwks_calls == 2  # exactly one refetch for the whole flood
    reasons = [await attempt(uuid.uuid4().hex) for _ in range(200)]
    assert set(reasons) == {"unknown_kid"}
    assert idp.jwks_calls == 2  # still in cooldown
    clock.now += FAST_KEYS.unknown_kid_cooldown_seconds + 1
    await attempt("another")
    assert idp.jwks_calls == 3
    assert cache.refetches_for_unknown_kid == 2


async def test_rotated_key_found_by_one_refetch(idp: MemoryIdP, keys: object) -> None:
    clock = Clock()
    cache = KeyCache(ISSUER, idp, FAST_KEYS, clock=clock)
    await cache.refresh()
    new = dict(idp.jwks["keys"][0], kid="rsa2")
    idp.jwks = {"keys": [*idp.jwks["keys"], new]}
    key = await cache.get("rsa2", "RS256")
    assert key.kid == "rsa2"
    assert idp.jwks_calls == 2


async def test_negative_cache_remembers_missing_kid(idp: MemoryIdP) -> None:
    clock = Clock()
    cache = KeyCache(ISSUER, idp, KeyConfig(unknown_kid_cooldown_seconds=0), clock=clock)
    await cache.refresh()
    with pytest.raises(InvalidToken):
        await cache.get("ghost", "RS256")
    assert idp.jwks_calls == 2
    with pytest.raises(InvalidToken):
        await cache.get("ghost", "RS256")
    assert idp.jwks_calls == 2  # negative cache, even with no cooldown


async def test_stale_keys_kept_then_fail_closed(idp: MemoryIdP) -> None:
    clock = Clock()
    settings = KeyConfig(stale_max_age_seconds=600, unknown_kid_cooldown_seconds=30)
    cache = KeyCache(ISSUER, idp, settings, clock=clock)
    await cache.refresh()
    idp.up = False
    clock.now += 300
    with pytest.raises(KeyFetchError):
        await cache.refresh()
    assert cache.ready and cache.key_count == 3  # last good keys kept
    assert (await cache.get("rsa1", "RS256")).kid == "rsa1"
    clock.now += 301
    assert not cache.ready
    with pytest.raises(InvalidToken) as info:
        await cache.get("rsa1", "RS256")
    assert info.value.reason == "keys_stale"
    idp.up = True
    clock.now += 31  # past the cooldown: the next lookup may refetch
    assert (await cache.get("rsa1", "RS256")).kid == "rsa1"
    assert cache.ready


async def test_background_refresh_runs(idp: MemoryIdP) -> None:
    settings = KeyConfig(refresh_interval_seconds=1, refresh_jitter=0.0)
    cache = KeyCache(ISSUER, idp, settings)
    await cache.start()
    try:
        for _ in range(100):
            if idp.jwks_calls >= 2:
                break
            await asyncio.sleep(0.05)
        assert idp.jwks_calls >= 2
    finally:
        await cache.close()


async def test_jwks_uri_override_skips_discovery(idp: MemoryIdP) -> None:
    cache = KeyCache(ISSUER, idp, FAST_KEYS, jwks_uri=idp.jwks_uri)
    await cache.refresh()
    assert idp.calls == [idp.jwks_uri]
    assert cache.metadata is None and cache.ready


async def test_fetch_timeout_counts_as_failure() -> None:
    async def slow(url: str) -> FetchResult:
        await asyncio.sleep(10)
        return FetchResult(200, b"{}")

    cache = KeyCache(ISSUER, slow, KeyConfig(fetch_timeout_seconds=0.05), jwks_uri="https://x/j")
    with pytest.raises(KeyFetchError):
        await cache.refresh()
    assert cache.fetch_failures == 1


def test_parse_jwks_skips_unusable(keys: object) -> None:
    from .core_helpers import Keys

    assert isinstance(keys, Keys)
    good = keys.jwks()["keys"]
    enc = dict(good[0], kid="enc", use="enc")
    private = {**json.loads(__import__("jwt").algorithms.RSAAlgorithm.to_jwk(keys.rsa)), "kid": "p"}
    wrong_alg = dict(good[1], kid="ec-as-rs", alg="RS256")
    oct_key = {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"}
    junk = {"kty": "RSA", "kid": "junk", "n": 5, "e": "AQAB"}
    parsed = parse_jwks(
        json.dumps({"keys": [*good, enc, private, wrong_alg, oct_key, junk, "x"]}).encode()
    )
    assert sorted(parsed) == ["ec1", "ed1", "rsa1"]
    assert parsed["rsa1"].algorithms == frozenset(
        {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}
    )
    assert parsed["ec1"].algorithms == frozenset({"ES256"})
    assert parsed["ed1"].algorithms == frozenset({"EdDSA"})
    with pytest.raises(DiscoveryError):
        parse_jwks(b"[]")
    with pytest.raises(DiscoveryError):
        parse_jwks(b'{"keys": 1}')
    # nested past the parser's recursion limit: a refusal, not a RecursionError (issue 15)
    with pytest.raises(DiscoveryError, match="not valid JSON"):
        parse_jwks(b"[" * 200_000)


async def test_unexpected_fetcher_error_is_a_failure_not_a_crash(idp: MemoryIdP) -> None:
    calls = 0

    async def buggy(url: str) -> FetchResult:
        nonlocal calls
        calls += 1
        raise RuntimeError("fetcher bug")

    settings = KeyConfig(refresh_interval_seconds=1, refresh_jitter=0.0)
    cache = KeyCache(ISSUER, buggy, settings)
    await cache.start()  # does not raise
    try:
        for _ in range(100):  # the background loop keeps retrying (backoff 1 s)
            if calls >= 2:
                break
            await asyncio.sleep(0.05)
        assert calls >= 2
        assert cache.fetch_failures >= 2 and not cache.ready
    finally:
        await cache.close()

"""TokenVerifier: the happy paths and a table of hostile tokens, each of which
must be refused with a precise reason — and without any unexpected fetch."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from authgate.core.errors import InvalidToken
from authgate.core.keys import KeyCache
from authgate.core.quickstart import mint_unsigned_token
from authgate.core.verify import TokenVerifier
from tests.support.fetchers import MemoryIdP

from .core_helpers import (
    AUDIENCE,
    FAST_KEYS,
    ISSUER,
    Keys,
    b64,
    b64json,
    claims,
    make_config,
    raw_token,
    sign,
)


async def make_verifier(idp: MemoryIdP, **overrides: Any) -> TokenVerifier:
    config = make_config(**overrides)
    cache = KeyCache(ISSUER, idp, FAST_KEYS)
    await cache.refresh()
    return TokenVerifier(config, {ISSUER: cache})


async def reason_of(verifier: TokenVerifier, token: str) -> str:
    with pytest.raises(InvalidToken) as info:
        await verifier.verify(token)
    assert token not in info.value.description
    assert all(token not in v for v in info.value.body().values())
    return info.value.reason


async def test_valid_tokens_all_key_types(idp: MemoryIdP, keys: Keys) -> None:
    verifier = await make_verifier(idp)
    for key, alg, kid in [
        (keys.rsa, "RS256", "rsa1"),
        (keys.rsa, "PS384", "rsa1"),
        (keys.ec, "ES256", "ec1"),
        (keys.ed, "EdDSA", "ed1"),
    ]:
        principal = await verifier.verify(sign(key, claims(), alg=alg, kid=kid))
        assert principal.subject == "user-1"
        assert principal.email == "alice@example.com"
        assert principal.groups == ("developers", "platform-admins")
        assert principal.scopes == ("openid", "platform:read", "platform:write")
        assert principal.issuer == ISSUER and principal.audience == (AUDIENCE,)
        assert not principal.quickstart


async def test_cache_hits_and_exp_bound(idp: MemoryIdP, keys: Keys) -> None:
    verifier = await make_verifier(idp)
    token = sign(keys.rsa, claims())
    first = await verifier.verify(token)
    assert await verifier.verify(token) is first
    assert (verifier.cache_hits, verifier.cache_misses) == (1, 1)
    # expiry is honoured for cached tokens too
    clock = {"now": time.time() + 300 + 61}
    verifier._clock = lambda: clock["now"]
    assert await reason_of(verifier, token) == "token_expired"


async def test_cache_invalidated_when_key_leaves_jwks(idp: MemoryIdP, keys: Keys) -> None:
    verifier = await make_verifier(idp)
    token = sign(keys.rsa, claims())
    await verifier.verify(token)
    idp.jwks = {"keys": [k for k in idp.jwks["keys"] if k["kid"] != "rsa1"]}
    await verifier._keys[ISSUER].refresh()
    assert await reason_of(verifier, token) == "unknown_kid"


async def test_cache_bounded(idp: MemoryIdP, keys: Keys) -> None:
    verifier = await make_verifier(idp, tokens__cache_size=5)
    for i in range(20):
        await verifier.verify(sign(keys.rsa, claims(sub=f"u{i}")))
    assert verifier.cache_entries <= 5


async def test_cache_bounded_by_memory_and_shares_common_values(idp: MemoryIdP, keys: Keys) -> None:
    from authgate.core.tokencache import ENTRY_OVERHEAD_BYTES

    budget = 4 * (ENTRY_OVERHEAD_BYTES + 120)  # room for about four short entries
    verifier = await make_verifier(idp, tokens__cache_max_bytes=budget)
    tokens = [sign(keys.ec, claims(sub=f"u{i}"), alg="ES256", kid="ec1") for i in range(12)]
    principals = [await verifier.verify(t) for t in tokens]
    assert 2 <= verifier.cache_entries <= 4
    assert 0 < verifier.cache_bytes <= budget
    # The newest entries are kept (oldest first out): the last token is a hit.
    hits = verifier.cache_hits
    await verifier.verify(tokens[-1])
    assert verifier.cache_hits == hits + 1
    await verifier.verify(tokens[0])
    assert verifier.cache_hits == hits + 1  # evicted long ago: verified again
    # Values every token carries are stored once, not per entry.
    first, last = principals[0], principals[-1]
    assert first.issuer is last.issuer and first.groups is last.groups
    assert first.scopes is last.scopes and first.audience is last.audience
    assert first.subject != last.subject


async def test_cache_budget_zero_disables_caching(idp: MemoryIdP, keys: Keys) -> None:
    verifier = await make_verifier(idp, tokens__cache_max_bytes=0)
    token = sign(keys.rsa, claims())
    await verifier.verify(token)
    await verifier.verify(token)
    assert (verifier.cache_entries, verifier.cache_hits) == (0, 0)


async def test_scope_forms_and_prefix(idp: MemoryIdP, keys: Keys) -> None:
    verifier = await make_verifier(idp, oidc__scope_prefix="api://nmp/")
    p = await verifier.verify(sign(keys.rsa, claims(scope=None, scp="api://nmp/files:read x")))
    assert p.scopes == ("files:read", "x")
    p = await verifier.verify(sign(keys.rsa, claims(scope=["api://nmp/a", "b"])))
    assert p.scopes == ("a", "b")
    p = await verifier.verify(sign(keys.rsa, claims(scope=None, groups=None)))
    assert p.scopes == () and p.groups == ()


async def test_audience_array_and_default_client_id(idp: MemoryIdP, keys: Keys) -> None:
    verifier = await make_verifier(idp)
    p = await verifier.verify(sign(keys.rsa, claims(aud=["other", AUDIENCE])))
    assert p.audience == ("other", AUDIENCE)
    verifier = await make_verifier(idp, oidc__audience=[])
    p = await verifier.verify(sign(keys.rsa, claims(aud="authgate-cli")))
    assert p.audience == ("authgate-cli",)


async def test_additional_issuer(idp: MemoryIdP, keys: Keys) -> None:
    other = MemoryIdP(jwks=idp.jwks, issuer="https://other.test/realms/x")
    config = make_config(oidc__additional_issuers=[other.issuer])
    caches = {
        ISSUER: KeyCache(ISSUER, idp, FAST_KEYS),
        other.issuer: KeyCache(other.issuer, other, FAST_KEYS),
    }
    for c in caches.values():
        await c.refresh()
    verifier = TokenVerifier(config, caches)
    p = await verifier.verify(sign(keys.rsa, claims(iss=other.issuer)))
    assert p.issuer == other.issuer


def _hs256_with_public_key(keys: Keys) -> str:
    pem = keys.rsa.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    import hashlib
    import hmac

    header = b64json({"alg": "HS256", "kid": "rsa1", "typ": "JWT"})
    payload = b64json(claims())
    mac = hmac.new(pem, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64(mac)}"


def _forged(keys: Keys) -> str:
    token = sign(keys.rsa, claims())
    h, p, s = token.split(".")
    payload = json.loads(base64.urlsafe_b64decode(p + "=="))
    payload["sub"] = "admin"
    return f"{h}.{b64json(payload)}.{s}"


def _dup_keys_payload() -> str:
    return b64(b'{"sub":"user-1","sub":"admin"}')


def hostile_cases(keys: Keys) -> list[tuple[str, str, str]]:
    now = int(time.time())
    good_header = {"alg": "RS256", "kid": "rsa1", "typ": "JWT"}
    sig = b"x" * 256
    return [
        ("alg none", raw_token({"alg": "none"}, claims()), "alg_not_allowed"),
        ("alg None", raw_token({"alg": "None"}, claims()), "alg_not_allowed"),
        ("alg NONE", raw_token({"alg": "NONE", "kid": "rsa1"}, claims(), sig), "alg_not_allowed"),
        ("HS256 with RSA public key", _hs256_with_public_key(keys), "alg_not_allowed"),
        ("forged payload", _forged(keys), "bad_signature"),
        ("signed by another key", sign(keys.rsa_other, claims()), "bad_signature"),
        ("RS256 with EC kid", sign(keys.rsa, claims(), kid="ec1"), "alg_not_allowed"),
        (
            "ES256 r=s=0",
            raw_token({"alg": "ES256", "kid": "ec1"}, claims(), b"\0" * 64),
            "bad_signature",
        ),
        (
            "ES256 short signature",
            raw_token({"alg": "ES256", "kid": "ec1"}, claims(), b"\1" * 10),
            "bad_signature",
        ),
        ("empty signature", raw_token(good_header, claims()), "bad_signature"),
        (
            "kid path traversal",
            sign(keys.rsa, claims(), kid="../../../../etc/passwd"),
            "unknown_kid",
        ),
        (
            "100 KB kid",
            raw_token({**good_header, "kid": "k" * 100_000}, claims(), sig),
            "token_too_large",
        ),
        (
            "300 char kid",
            raw_token({**good_header, "kid": "k" * 300}, claims(), sig),
            "malformed_token",
        ),
        (
            "kid not a string",
            raw_token({**good_header, "kid": 7}, claims(), sig),
            "malformed_token",
        ),
        ("expired", sign(keys.rsa, claims(exp=now - 120)), "token_expired"),
        ("future nbf", sign(keys.rsa, claims(nbf=now + 600)), "token_not_yet_valid"),
        ("future iat", sign(keys.rsa, claims(iat=now + 600)), "token_not_yet_valid"),
        ("no exp", sign(keys.rsa, claims(exp=None)), "missing_claim"),
        ("exp as string", sign(keys.rsa, claims(exp=str(now + 300))), "bad_claim"),
        ("exp as bool", sign(keys.rsa, claims(exp=True)), "bad_claim"),
        ("aud as object", sign(keys.rsa, claims(aud={"a": AUDIENCE})), "bad_claim"),
        ("aud list with int", sign(keys.rsa, claims(aud=[AUDIENCE, 3])), "bad_claim"),
        ("foreign aud", sign(keys.rsa, claims(aud="api://other")), "bad_audience"),
        ("no aud", sign(keys.rsa, claims(aud=None)), "bad_audience"),
        ("iss prefix", sign(keys.rsa, claims(iss=ISSUER[:-1])), "bad_issuer"),
        ("iss suffix", sign(keys.rsa, claims(iss=ISSUER + "x")), "bad_issuer"),
        ("iss trailing slash", sign(keys.rsa, claims(iss=ISSUER + "/")), "bad_issuer"),
        ("iss case", sign(keys.rsa, claims(iss=ISSUER.upper())), "bad_issuer"),
        ("iss as list", sign(keys.rsa, claims(iss=[ISSUER])), "bad_issuer"),
        ("no sub", sign(keys.rsa, claims(sub=None)), "missing_claim"),
        ("groups as int", sign(keys.rsa, claims(groups=5)), "bad_claim"),
        ("scope as object", sign(keys.rsa, claims(scope={"a": 1})), "bad_claim"),
        ("crit", sign(keys.rsa, claims(), crit=["exp"], exp=1), "unsupported_crit"),
        ("nested JWT cty", sign(keys.rsa, claims(), cty="JWT"), "malformed_token"),
        ("JWE five segments", "a.b.c.d.e", "malformed_token"),
        ("two segments", "a.b", "malformed_token"),
        (
            "enc header",
            raw_token({**good_header, "enc": "A128GCM"}, claims(), sig),
            "malformed_token",
        ),
        ("typ logout", sign(keys.rsa, claims(), typ="logout+jwt"), "bad_token_type"),
        (
            "dup header keys",
            b64(b'{"alg":"none","alg":"RS256","kid":"rsa1"}')
            + "."
            + b64json(claims())
            + "."
            + b64(sig),
            "malformed_token",
        ),
        ("dup payload keys", raw_token(good_header, _dup_keys_payload(), sig), "malformed_token"),
        ("header not object", raw_token(b64(b"[1]"), claims(), sig), "malformed_token"),
        ("header not base64", "!!!." + b64json(claims()) + "." + b64(sig), "malformed_token"),
        (
            "padded base64",
            b64json(good_header) + "==." + b64json(claims()) + "." + b64(sig),
            "malformed_token",
        ),
        ("NaN exp", raw_token(good_header, b64(b'{"exp":NaN}'), sig), "malformed_token"),
        ("non-ascii", "é" + sign(keys.rsa, claims()), "malformed_token"),
        ("no alg", raw_token({"kid": "rsa1"}, claims(), sig), "malformed_token"),
        ("alg not allowed", sign(keys.rsa, claims(), alg="RS512"), "alg_not_allowed"),
        ("too large", "a" * 20_000, "token_too_large"),
    ]


async def test_hostile_tokens(idp: MemoryIdP, keys: Keys) -> None:
    verifier = await make_verifier(idp, tokens__algorithms=["RS256", "PS384", "ES256", "EdDSA"])
    failures = []
    for name, token, expected in hostile_cases(keys):
        try:
            await verifier.verify(token)
            failures.append(f"{name}: accepted")
        except InvalidToken as exc:
            if exc.reason != expected:
                failures.append(f"{name}: {exc.reason} != {expected}")
            if token in exc.description:
                failures.append(f"{name}: token echoed")
    assert failures == []


async def test_jku_x5u_jwk_never_used(idp: MemoryIdP, keys: Keys) -> None:
    verifier = await make_verifier(idp)
    attacker = "http://127.0.0.1:9/attacker-jwks"
    attacker_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(keys.rsa_other.public_key()))
    tokens = [
        sign(keys.rsa_other, claims(), kid="attacker", jku=attacker),
        sign(keys.rsa_other, claims(), kid="attacker", x5u=attacker),
        sign(keys.rsa_other, claims(), kid=None, jwk=attacker_jwk),
        sign(keys.rsa_other, claims(), kid="rsa1", jku=attacker, jwk=attacker_jwk),
        sign(keys.rsa_other, claims(), kid="rsa1", x5c=["MIIB"]),
    ]
    for token in tokens:
        assert await reason_of(verifier, token) in {"unknown_kid", "bad_signature"}
    assert all("attacker" not in url and "127.0.0.1:9" not in url for url in idp.calls)
    # a legit token carrying the attacker's jku still verifies with the IdP's key
    ok = sign(keys.rsa, claims(), kid="rsa1", jku=attacker)
    assert (await verifier.verify(ok)).subject == "user-1"


async def test_random_kid_flood_one_fetch(idp: MemoryIdP, keys: Keys) -> None:
    verifier = await make_verifier(idp)
    before = idp.jwks_calls
    for i in range(300):
        token = sign(keys.rsa, claims(sub=f"s{i}"), kid=f"random-{i}")
        assert await reason_of(verifier, token) == "unknown_kid"
    assert idp.jwks_calls - before == 1


async def test_quickstart_unsigned(idp: MemoryIdP) -> None:
    verifier = await make_verifier(idp, quickstart__enabled=True)
    token = mint_unsigned_token("dev@example.com")
    p = await verifier.verify(token)
    assert p.quickstart and p.subject == "dev@example.com" and p.email == "dev@example.com"
    assert p.scopes == ("platform:read", "platform:write")
    assert await reason_of(verifier, raw_token({"alg": "none"}, {"sub": "x"})) == "missing_claim"
    assert (
        await reason_of(verifier, raw_token({"alg": "NONE"}, {"email": "a@b"})) == "alg_not_allowed"
    )
    expired = mint_unsigned_token("dev@example.com", ttl_seconds=10, now=time.time() - 1000)
    assert await reason_of(verifier, expired) == "token_expired"
    # signed tokens still go through full verification in quickstart
    assert (
        await reason_of(verifier, raw_token({"alg": "none"}, {"email": "a@b"}, b"sig"))
        == "malformed_token"
    )


async def test_unsigned_refused_outside_quickstart(idp: MemoryIdP) -> None:
    verifier = await make_verifier(idp)
    assert await reason_of(verifier, mint_unsigned_token("dev@example.com")) == "alg_not_allowed"


async def test_hs256_refused_even_if_config_bypasses_validation(idp: MemoryIdP, keys: Keys) -> None:
    import dataclasses

    config = make_config()
    hacked = dataclasses.replace(
        config, tokens=dataclasses.replace(config.tokens, algorithms=("RS256", "HS256"))
    )
    cache = KeyCache(ISSUER, idp, FAST_KEYS)
    await cache.refresh()
    verifier = TokenVerifier(hacked, {ISSUER: cache})
    assert await reason_of(verifier, _hs256_with_public_key(keys)) == "alg_not_allowed"
    # and the key-type check alone also refuses it: an RSA key never verifies HS256
    assert "HS256" not in (await cache.get("rsa1", "HS256")).algorithms


async def test_token_without_kid_uses_the_only_fitting_key(idp: MemoryIdP, keys: Keys) -> None:
    verifier = await make_verifier(idp)
    assert (await verifier.verify(sign(keys.ec, claims(), alg="ES256", kid=None))).subject
    # two RSA keys: a kid-less RS256 token is ambiguous and refused
    second = dict(idp.jwks["keys"][0], kid="rsa2")
    idp.jwks = {"keys": [*idp.jwks["keys"], second]}
    await verifier._keys[ISSUER].refresh()
    assert await reason_of(verifier, sign(keys.rsa, claims(), kid=None)) == "unknown_kid"

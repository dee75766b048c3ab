"""The sidecar's side of access keys without a cluster: the ``access_key`` issuer
entry verified by the core TokenVerifier with a key cache over the operator's
real JWKS, and the revocation check on every request — cached tokens included."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from authgate.core.config import KeyConfig, parse_config
from authgate.core.discovery import access_keys_endpoint
from authgate.core.errors import ConfigError, InvalidToken
from authgate.core.keys import KeyCache
from authgate.core.oidc import FetchResult
from authgate.core.revocation import RevocationList
from authgate.core.verify import TokenVerifier
from authgate.operator.accesskeys.model import new_jti
from authgate.operator.accesskeys.signing import SigningKeySet, mint

AK_ISSUER = "http://authgate.authgate-system.svc:80/apis/auth/v2/issuers/team/corp"
AUDIENCE = "api://authgate"


def config(**access_key: Any) -> Any:
    return parse_config(
        {
            "apiVersion": "authgate.io/v1alpha1",
            "kind": "ProxyConfig",
            "oidc": {
                "issuer": "https://idp.test/realms/x",
                "client_id": "cli",
                "audience": [AUDIENCE],
            },
            "issuers": [
                {
                    "name": "access-keys",
                    "kind": "access_key",
                    "issuer": AK_ISSUER,
                    "access_key": access_key,
                }
            ],
        }
    )


def verifier(keys: SigningKeySet, revocations: RevocationList | None) -> TokenVerifier:
    async def fetch(url: str) -> FetchResult:
        if url == AK_ISSUER + "/.well-known/openid-configuration":
            return FetchResult(
                200, json.dumps({"issuer": AK_ISSUER, "jwks_uri": AK_ISSUER + "/jwks"}).encode()
            )
        if url == AK_ISSUER + "/jwks":
            return FetchResult(200, json.dumps(keys.jwks()).encode())
        return FetchResult(404, b"")

    cfg = config()
    cache = KeyCache(AK_ISSUER, fetch, KeyConfig(fetch_timeout_seconds=2))
    lists = {AK_ISSUER: revocations} if revocations is not None else {}
    return TokenVerifier(cfg, {AK_ISSUER: cache}, revocations=lists)


def key_token(keys: SigningKeySet, jti: str, **extra: Any) -> str:
    now = int(time.time())
    return mint(
        {
            "iss": AK_ISSUER,
            "aud": [AUDIENCE],
            "sub": "alice",
            "scope": "platform:read",
            "jti": jti,
            "iat": now,
            "exp": now + 600,
            "email": "a@example.com",
            "groups": ["dev"],
            **extra,
        },
        keys.signer(now),
    )


def listing(*revoked: str) -> bytes:
    return json.dumps({"issuer": AK_ISSUER, "kids": [], "revoked": list(revoked)}).encode()


async def test_access_key_principal_and_revocation_on_cached_tokens() -> None:
    keys = SigningKeySet.initial(time.time())
    revocations = RevocationList(AK_ISSUER, 30)
    revocations.apply(listing(), '"1"')
    v = verifier(keys, revocations)
    jti = new_jti()
    token = key_token(keys, jti)
    principal = await v.verify(token)
    assert (principal.subject, principal.kind, principal.scopes) == (
        "alice",
        "access_key",
        ("platform:read",),
    )
    assert principal.groups == ("dev",) and principal.attribute("access_key_id") == jti
    await v.verify(token)
    assert v.cache_hits == 1
    revocations.apply(listing(jti), '"2"')  # revoked: the cached token is refused too
    with pytest.raises(InvalidToken) as err:
        await v.verify(token)
    assert err.value.reason == "key_revoked"


async def test_access_keys_fail_closed_without_a_list_and_with_bad_claims() -> None:
    keys = SigningKeySet.initial(time.time())
    with pytest.raises(InvalidToken) as err:
        await verifier(keys, None).verify(key_token(keys, new_jti()))
    assert err.value.reason == "revocations_unavailable"
    never_fetched = RevocationList(AK_ISSUER, 30)
    with pytest.raises(InvalidToken) as err:
        await verifier(keys, never_fetched).verify(key_token(keys, new_jti()))
    assert err.value.reason == "revocations_unavailable"
    ok = RevocationList(AK_ISSUER, 30)
    ok.apply(listing(), None)
    with pytest.raises(InvalidToken) as err:
        await verifier(keys, ok).verify(key_token(keys, "not-a-key-id"))
    assert err.value.reason == "bad_claim"
    other = SigningKeySet.initial(time.time())  # forged: signed by a key not in the JWKS
    with pytest.raises(InvalidToken):
        await verifier(keys, ok).verify(key_token(other, new_jti()))


def test_entry_config_checks_and_discovery() -> None:
    cfg = config(poll_seconds=1, max_stale_seconds=10)
    assert cfg.issuers[0].effective_revocation_url == AK_ISSUER + "/revocations"
    assert access_keys_endpoint(cfg) == (
        "http://authgate.authgate-system.svc:80/apis/auth/v2/access-keys?provider=team/corp"
    )
    with pytest.raises(ConfigError) as err:
        config(poll_seconds=10, max_stale_seconds=12)
    assert any("max_stale_seconds: must be at least twice" in e for e in err.value.errors)
    with pytest.raises(ConfigError) as err:
        parse_config(
            {
                "apiVersion": "authgate.io/v1alpha1",
                "kind": "ProxyConfig",
                "oidc": {"issuer": "https://idp.test/x", "client_id": "cli"},
                "issuers": [
                    {
                        "name": "x",
                        "kind": "oidc",
                        "issuer": "https://other.test",
                        "access_key": {"poll_seconds": 1},
                    }
                ],
            }
        )
    assert any("applies to kind access_key only" in e for e in err.value.errors)

"""Gate.decide end to end (pure): the 400/401/403 answers, public paths, auth
disabled, quickstart, and the discovery document."""

from __future__ import annotations

from typing import Any

import pytest

from authgate.core.discovery import discovery_document
from authgate.core.errors import AuthError
from authgate.core.gate import Gate
from authgate.core.keys import KeyCache
from authgate.core.quickstart import mint_unsigned_token
from tests.support.fetchers import MemoryIdP

from .core_helpers import FAST_KEYS, ISSUER, Keys, claims, make_config, sign


async def make_gate(idp: MemoryIdP, **overrides: Any) -> Gate:
    config = make_config(**overrides)
    cache = KeyCache(ISSUER, idp, FAST_KEYS)
    await cache.refresh()
    return Gate.from_config(config, {ISSUER: cache})


async def refused(
    gate: Gate, method: str, target: str, headers: list[tuple[str, str]]
) -> AuthError:
    with pytest.raises(AuthError) as info:
        await gate.decide(method, target, headers)
    return info.value


async def test_allowed_with_identity(idp: MemoryIdP, keys: Keys) -> None:
    gate = await make_gate(idp)
    token = sign(keys.rsa, claims())
    decision = await gate.decide(
        "GET",
        "/apis/models?x=1",
        [("Authorization", f"Bearer {token}"), ("X_NMP_Principal_Id", "mallory"), ("Accept", "a")],
    )
    assert decision.principal is not None and decision.principal.subject == "user-1"
    assert decision.path == "/apis/models" and not decision.public
    assert decision.upstream_headers == [
        ("Accept", "a"),
        ("X-NMP-Principal-Id", "user-1"),
        ("X-NMP-Principal-Email", "alice@example.com"),
        ("X-NMP-Principal-Groups", "developers,platform-admins"),
        ("X-NMP-Scopes", "openid platform:read platform:write"),
    ]


async def test_answers(idp: MemoryIdP, keys: Keys) -> None:
    gate = await make_gate(idp)
    token = sign(keys.rsa, claims(scope="platform:read"))
    auth = ("Authorization", f"Bearer {token}")

    err = await refused(gate, "GET", "/x", [])
    assert (err.status, err.reason) == (401, "missing_token")
    assert err.www_authenticate("authgate") == 'Bearer realm="authgate"'

    err = await refused(gate, "GET", "/x", [auth, ("authorization", f"Bearer {token}")])
    assert (err.status, err.reason) == (400, "duplicate_authorization")
    assert err.www_authenticate("authgate") is None

    err = await refused(gate, "GET", f"/x?access_token={token}", [auth])
    assert (err.status, err.reason) == (400, "token_in_query")
    err = await refused(gate, "GET", "/x?a=1&ACCESS%5Ftoken=x", [])
    assert err.reason == "token_in_query"

    err = await refused(gate, "GET", "/x", [("Authorization", "Basic dTpw")])
    assert (err.status, err.reason) == (401, "unsupported_auth_scheme")

    err = await refused(gate, "GET", "/x", [("Authorization", "Bearer " + "a" * 40000)])
    assert (err.status, err.reason) == (401, "token_too_large")

    err = await refused(gate, "GET", "/x", [("Authorization", "Bearer a.b.c")])
    assert err.status == 401 and err.error == "invalid_token"
    challenge = err.www_authenticate("authgate")
    assert challenge is not None and 'error="invalid_token"' in challenge
    assert err.body()["reason"] == "malformed_token"

    err = await refused(gate, "POST", "/x", [auth])
    assert (err.status, err.error, err.scope) == (403, "insufficient_scope", "platform:write")

    err = await refused(gate, "GET", "/public/../admin", [auth])
    assert (err.status, err.reason) == (400, "invalid_path")

    # bearer scheme is case-insensitive (RFC 6750 §2.1 / RFC 9110 §11.1)
    assert (await gate.decide("GET", "/x", [("authorization", f"bearer {token}")])).principal


async def test_public_paths_and_auth_disabled(idp: MemoryIdP) -> None:
    gate = await make_gate(idp)
    decision = await gate.decide("GET", "/healthz", [("X-NMP-Scopes", "admin")])
    assert decision.public and decision.principal is None
    assert decision.upstream_headers == []
    gate = await make_gate(idp, auth_enabled=False)
    decision = await gate.decide("POST", "/admin", [("X-NMP-Principal-Id", "root"), ("A", "b")])
    assert decision.principal is None and decision.upstream_headers == [("A", "b")]


async def test_quickstart_gate(idp: MemoryIdP) -> None:
    gate = await make_gate(idp, quickstart__enabled=True)
    token = mint_unsigned_token("dev@example.com")
    decision = await gate.decide("POST", "/x", [("Authorization", f"Bearer {token}")])
    assert decision.principal is not None and decision.principal.quickstart
    assert ("X-NMP-Principal-Email", "dev@example.com") in decision.upstream_headers


async def test_discovery_document(idp: MemoryIdP) -> None:
    cache = KeyCache(ISSUER, idp, FAST_KEYS)
    await cache.refresh()
    config = make_config(oidc__scope_prefix="api://nmp/")
    doc = discovery_document(config, cache.metadata)
    assert doc == {
        "auth_enabled": True,
        "oidc": {
            "issuer": ISSUER,
            "accepted_audiences": ["api://authgate"],
            "token_endpoint": ISSUER + "/protocol/openid-connect/token",
            "device_authorization_endpoint": ISSUER + "/protocol/openid-connect/auth/device",
            "client_id": "authgate-cli",
            "default_scopes": "platform:read platform:write openid profile email offline_access",
            "scope_prefix": "api://nmp/",
            "authorization_endpoint": ISSUER + "/protocol/openid-connect/auth",
        },
    }
    override = make_config(oidc__token_endpoint="https://tok.example/t")
    assert discovery_document(override, None)["oidc"]["token_endpoint"] == "https://tok.example/t"
    assert discovery_document(make_config(auth_enabled=False), None) == {"auth_enabled": False}
    quick = discovery_document(make_config(quickstart__enabled=True), None)
    assert quick["quickstart"] is True and "--unsigned-token" in quick["login_hint"]

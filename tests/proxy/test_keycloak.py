"""The proxy against the real Keycloak (``keycloak`` fixture, docs/testenv-api.md)."""

from __future__ import annotations

import aiohttp
import pytest

from .proxy_harness import ProxyProcess, base_document, deep_merge

pytestmark = [pytest.mark.integration, pytest.mark.keycloak]


@pytest.fixture
def keycloak_proxy(keycloak, demo_upstream, engine, tmp_path):  # type: ignore[no-untyped-def]
    document = deep_merge(
        base_document(keycloak.issuer, demo_upstream, engine),
        {
            "oidc": {"client_id": keycloak.cli_client_id, "audience": [keycloak.audience]},
            "keys": {"ca_file": str(keycloak.ca_file)},
        },
    )
    proxy = ProxyProcess(document, tmp_path)
    try:
        yield proxy.start()
    finally:
        proxy.stop()


async def test_keycloak_password_grant_token(keycloak, keycloak_proxy: ProxyProcess) -> None:  # type: ignore[no-untyped-def]
    user = keycloak.users["alice"]
    full = keycloak.password_token("alice", scope="openid platform:read platform:write")
    read_only = keycloak.password_token("alice", scope="openid platform:read")
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as s:
        auth = {"Authorization": f"Bearer {full['access_token']}"}
        async with s.get(f"{keycloak_proxy.url}/apis/kc", headers=auth) as r:
            assert r.status == 200, await r.text()
            echo = await r.json()
        async with s.post(f"{keycloak_proxy.url}/apis/kc", headers=auth, data=b"{}") as r:
            assert r.status == 200
        ro = {"Authorization": f"Bearer {read_only['access_token']}"}
        async with s.get(f"{keycloak_proxy.url}/apis/kc", headers=ro) as r:
            assert r.status == 200
        async with s.post(f"{keycloak_proxy.url}/apis/kc", headers=ro, data=b"{}") as r:
            assert r.status == 403
            assert 'scope="platform:write"' in r.headers["WWW-Authenticate"]
        async with s.get(f"{keycloak_proxy.url}/apis/auth/discovery") as r:
            doc = await r.json()
    seen = {k.lower(): v for k, v in echo["headers"]}
    assert seen["x-nmp-principal-id"]  # Keycloak's subject (a UUID)
    assert seen["x-nmp-principal-email"] == user.email
    assert "platform-admins" in seen["x-nmp-principal-groups"].split(",")
    assert doc["oidc"]["issuer"] == keycloak.issuer
    assert doc["oidc"]["token_endpoint"].startswith(keycloak.base_url)


async def test_keycloak_user_without_groups_and_bad_tokens(  # type: ignore[no-untyped-def]
    keycloak, keycloak_proxy: ProxyProcess
) -> None:
    carol = keycloak.password_token("carol", scope="openid platform:read")
    token = carol["access_token"]
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as s:
        async with s.get(
            f"{keycloak_proxy.url}/apis/kc", headers={"Authorization": f"Bearer {token}"}
        ) as r:
            assert r.status == 200
            echo = await r.json()
        async with s.get(
            f"{keycloak_proxy.url}/apis/kc", headers={"Authorization": f"Bearer {tampered}"}
        ) as r:
            assert r.status == 401
            assert 'error="invalid_token"' in r.headers["WWW-Authenticate"]
    seen = {k.lower(): v for k, v in echo["headers"]}
    assert seen["x-nmp-principal-email"] == keycloak.users["carol"].email
    assert seen.get("x-nmp-principal-groups", "") == ""
    assert token not in keycloak_proxy.log() and tampered not in keycloak_proxy.log()

"""The proxy against the real Keycloak (``keycloak`` fixture, docs/testenv-api.md)."""

from __future__ import annotations

import aiohttp
import pytest
from proxy_harness import ProxyProcess, base_document, deep_merge

pytestmark = [pytest.mark.integration, pytest.mark.keycloak]


@pytest.fixture
def keycloak_proxy(keycloak, demo_upstream, tmp_path):  # type: ignore[no-untyped-def]
    document = deep_merge(
        base_document(keycloak.issuer, demo_upstream, "aiohttp"),
        {"oidc": {"client_id": keycloak.cli_client_id, "audience": [keycloak.audience]},
         "keys": {"ca_file": str(keycloak.ca_file)}},
    )  # fmt: skip
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
    assert seen["x-nmp-principal-email"] == user.email
    assert "platform-admins" in seen["x-nmp-principal-groups"].split(",")
    assert doc["oidc"]["issuer"] == keycloak.issuer
    assert doc["oidc"]["token_endpoint"].startswith(keycloak.base_url)

"""Auth outcomes through the real proxy process (RFC 6750 answers)."""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp
import pytest

from tests.support.rawhttp import raw_request, request_head

from .proxy_harness import FakeIdP, ProxyProcess

pytestmark = pytest.mark.integration


async def _get(url: str, **kw: object) -> tuple[int, dict[str, str], dict]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as s:
        async with s.get(url, **kw) as r:  # type: ignore[arg-type]
            return r.status, dict(r.headers), await r.json(content_type=None)


async def test_missing_token_is_401_with_bare_challenge(proxy: ProxyProcess) -> None:
    status, headers, body = await _get(f"{proxy.url}/apis/things")
    assert status == 401
    assert headers["WWW-Authenticate"].startswith('Bearer realm="authgate"')
    assert "error=" not in headers["WWW-Authenticate"]  # RFC 6750 §3.1: no credentials
    assert body["reason"] == "missing_token"


async def test_garbage_token_is_401_invalid_token_and_never_echoed(proxy: ProxyProcess) -> None:
    token = "eyJhbGciOiJSUzI1NiJ9.bm90LWpzb24.c2lnbmF0dXJl-secret-marker"
    status, headers, body = await _get(
        f"{proxy.url}/apis/things", headers={"Authorization": f"Bearer {token}"}
    )
    assert status == 401
    challenge = headers["WWW-Authenticate"]
    assert 'error="invalid_token"' in challenge and "error_description=" in challenge
    assert body["error"] == "invalid_token" and body["reason"]
    assert "secret-marker" not in challenge and "secret-marker" not in str(body)
    assert "secret-marker" not in proxy.log()


async def test_expired_token_is_401(proxy: ProxyProcess, fake_idp: FakeIdP) -> None:
    token = fake_idp.mint(ttl=-3600)
    status, headers, body = await _get(
        f"{proxy.url}/apis/things", headers={"Authorization": f"Bearer {token}"}
    )
    assert status == 401
    assert "expired" in body["reason"]
    assert 'error="invalid_token"' in headers["WWW-Authenticate"]


@pytest.mark.parametrize("kind", ["rsa", "ec"])
async def test_valid_token_reaches_upstream_with_identity(
    proxy: ProxyProcess, fake_idp: FakeIdP, kind: str
) -> None:
    token = fake_idp.mint(kind=kind, groups=["developers", "ops"])
    status, _, echo = await _get(
        f"{proxy.url}/apis/things?x=1", headers={"Authorization": f"Bearer {token}"}
    )
    assert status == 200
    seen = {k.lower(): v for k, v in echo["headers"]}
    assert seen["x-nmp-principal-id"] == "user-1"
    assert seen["x-nmp-principal-email"] == "alice@example.com"
    assert seen["x-nmp-principal-groups"] == "developers,ops"
    assert set(seen["x-nmp-scopes"].split()) >= {"platform:read", "platform:write"}
    assert "authorization" not in seen  # forward_authorization defaults to false
    assert echo["raw_target"] == "/apis/things?x=1"


async def test_write_without_write_scope_is_403_with_scope(
    proxy: ProxyProcess, fake_idp: FakeIdP
) -> None:
    token = fake_idp.mint(scope="openid platform:read")
    auth = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as s:
        async with s.get(f"{proxy.url}/apis/things", headers=auth) as r:
            assert r.status == 200
        async with s.post(f"{proxy.url}/apis/things", headers=auth, data=b"x") as r:
            assert r.status == 403
            challenge = r.headers["WWW-Authenticate"]
            body = await r.json()
    assert 'error="insufficient_scope"' in challenge
    assert 'scope="platform:write"' in challenge
    assert body["error"] == "insufficient_scope"


async def test_path_rule_needs_its_own_scopes(proxy: ProxyProcess, fake_idp: FakeIdP) -> None:
    token = fake_idp.mint(scope="platform:read platform:write")
    status, headers, _ = await _get(
        f"{proxy.url}/apis/files/report.csv", headers={"Authorization": f"Bearer {token}"}
    )
    assert status == 403
    assert 'scope="files:read"' in headers["WWW-Authenticate"]
    files_token = fake_idp.mint(scope="files:read")
    status, _, _ = await _get(
        f"{proxy.url}/apis/files/report.csv", headers={"Authorization": f"Bearer {files_token}"}
    )
    assert status == 200


async def test_two_authorization_headers_are_400(proxy: ProxyProcess, fake_idp: FakeIdP) -> None:
    token = fake_idp.mint()
    twice = [("Authorization", f"Bearer {token}")] * 2
    head = request_head("GET", "/apis/things", proxy.port, twice)
    resp = await raw_request(proxy.port, head)
    assert resp.status == 400
    assert resp.json()["error"] == "invalid_request"
    assert token.encode() not in resp.body


async def test_token_in_header_and_query_is_400(proxy: ProxyProcess, fake_idp: FakeIdP) -> None:
    token = fake_idp.mint()
    status, _, body = await _get(
        f"{proxy.url}/apis/things?access_token={token}",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert status == 400
    assert body["error"] == "invalid_request"
    assert token not in proxy.log()


async def test_public_path_passes_without_token_and_strips_identity(proxy: ProxyProcess) -> None:
    status, _, echo = await _get(
        f"{proxy.url}/healthz",
        headers={"X-NMP-Principal-Id": "admin", "X-NMP-Scopes": "platform:write"},
    )
    assert status == 200
    names = {k.lower() for k, _ in echo["headers"]}
    assert "x-nmp-principal-id" not in names and "x-nmp-scopes" not in names


async def test_discovery_document(proxy: ProxyProcess, fake_idp: FakeIdP) -> None:
    status, headers, doc = await _get(f"{proxy.url}/apis/auth/discovery")
    assert status == 200
    assert headers["Content-Type"].startswith("application/json")
    assert doc["auth_enabled"] is True
    oidc = doc["oidc"]
    assert oidc["issuer"] == fake_idp.issuer
    assert oidc["client_id"] == "authgate-cli"
    assert oidc["token_endpoint"] == fake_idp.token_endpoint
    assert oidc["device_authorization_endpoint"] == fake_idp.device_authorization_endpoint
    assert "platform:read" in oidc["default_scopes"]
    assert "scope_prefix" in oidc


async def test_auth_disabled_discovery_and_passthrough(proxy_factory) -> None:  # type: ignore[no-untyped-def]
    proxy = proxy_factory(auth_enabled=False)
    status, _, doc = await _get(f"{proxy.url}/apis/auth/discovery")
    assert status == 200 and doc == {"auth_enabled": False}
    status, _, echo = await _get(f"{proxy.url}/apis/x", headers={"X-NMP-Principal-Id": "admin"})
    assert status == 200
    assert "x-nmp-principal-id" not in {k.lower() for k, _ in echo["headers"]}


async def test_access_log_is_json_with_principal_and_no_token(
    proxy: ProxyProcess, fake_idp: FakeIdP
) -> None:
    token = fake_idp.mint()
    await _get(
        f"{proxy.url}/apis/logged",
        headers={"Authorization": f"Bearer {token}", "Cookie": "session=cookie-secret"},
    )
    access: list[dict] = []
    deadline = time.monotonic() + 10  # the entry is written after the response is sent
    while not access and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        entries = []
        for line in proxy.log().splitlines():
            try:
                entries.append(json.loads(line))
            except ValueError:
                continue
        access = [
            e
            for e in entries
            if e.get("logger") == "authgate.access" and e.get("path") == "/apis/logged"
        ]
    assert access, proxy.log()[-2000:]
    entry = access[-1]
    assert entry["principal"] == "user-1" and entry["status"] == 200 and entry["method"] == "GET"
    assert "duration_ms" in entry
    assert token not in proxy.log() and "cookie-secret" not in proxy.log()

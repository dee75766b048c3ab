"""Keycloak issues the tokens our users' IdPs issue: API scopes, audience, groups."""

from __future__ import annotations

import httpx
import jwt
import pytest

from tests.support.device_flow import device_token_response, poll_device_token

pytestmark = [pytest.mark.keycloak, pytest.mark.integration]


def _verify(keycloak, token: str) -> dict:
    jwks = httpx.get(
        f"{keycloak.issuer}/protocol/openid-connect/certs",
        verify=keycloak.ssl_context(),
        timeout=10,
    ).json()
    kid = jwt.get_unverified_header(token)["kid"]
    key = jwt.PyJWKSet.from_dict(jwks)[kid]
    return jwt.decode(
        token, key=key.key, algorithms=["RS256"], audience=keycloak.audience, issuer=keycloak.issuer
    )


def test_password_grant_carries_scope_audience_groups(keycloak) -> None:
    tokens = keycloak.password_token("alice")
    claims = _verify(keycloak, tokens["access_token"])
    assert {"platform:read", "platform:write"} <= set(claims["scope"].split())
    aud = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    assert keycloak.audience in aud
    assert sorted(claims["groups"]) == ["developers", "platform-admins"]
    assert claims["preferred_username"] == "alice"
    assert claims["email"] == "alice@example.com"
    assert claims["sub"]
    assert tokens["refresh_token"]


def test_scope_only_when_requested(keycloak) -> None:
    claims = _verify(keycloak, keycloak.password_token("carol", scope="openid")["access_token"])
    assert "platform:read" not in claims["scope"].split()
    assert claims.get("groups", []) == []


def test_device_flow_completed_through_login_pages(keycloak) -> None:
    http = httpx.Client(verify=keycloak.ssl_context(), timeout=10)
    start = http.post(
        f"{keycloak.issuer}/protocol/openid-connect/auth/device",
        data={"client_id": keycloak.cli_client_id, "scope": "openid platform:read"},
    ).json()
    pending = device_token_response(
        http, keycloak.token_endpoint, keycloak.cli_client_id, start["device_code"]
    )
    assert pending.json()["error"] == "authorization_pending"

    keycloak.complete_device_login(start["verification_uri_complete"], "bob")

    token = poll_device_token(http, keycloak.token_endpoint, keycloak.cli_client_id, start)
    assert token, "device flow never completed"
    claims = _verify(keycloak, token)
    assert claims["preferred_username"] == "bob"
    assert "platform:read" in claims["scope"].split()
    assert "platform:write" not in claims["scope"].split()
    assert claims["groups"] == ["developers"]


def test_browser_login_returns_code(keycloak) -> None:
    url = str(
        httpx.URL(
            keycloak.authorization_endpoint,
            params={
                "client_id": keycloak.cli_client_id,
                "response_type": "code",
                "redirect_uri": "http://127.0.0.1:9/callback",
                "scope": "openid",
                "state": "s1",
            },
        )
    )
    location = keycloak.complete_browser_login(url, "carol")
    query = httpx.URL(location).params
    assert location.startswith("http://127.0.0.1:9/callback")
    assert query["state"] == "s1"
    assert query["code"]


def test_rotate_keys_keeps_old_key_published(keycloak) -> None:
    before = keycloak.password_token("bob")["access_token"]
    old_kid = jwt.get_unverified_header(before)["kid"]
    new_kid = keycloak.rotate_keys()
    assert new_kid != old_kid
    after = keycloak.password_token("bob")["access_token"]
    assert jwt.get_unverified_header(after)["kid"] == new_kid
    _verify(keycloak, before)  # the retired key still verifies
    _verify(keycloak, after)


@pytest.mark.slow
def test_restart_same_port_and_realm(keycloak) -> None:
    issuer = keycloak.issuer
    keycloak.stop()
    with pytest.raises(httpx.TransportError):
        httpx.get(
            f"{issuer}/.well-known/openid-configuration", verify=keycloak.ssl_context(), timeout=5
        )
    keycloak.start()
    assert keycloak.issuer == issuer
    claims = _verify(keycloak, keycloak.password_token("alice")["access_token"])
    assert claims["iss"] == issuer

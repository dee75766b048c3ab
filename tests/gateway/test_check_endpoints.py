"""The gateway endpoints spoken to directly, as each gateway speaks to them.

* **Envoy ext_authz, HTTP service mode.**  Envoy cannot be installed here (no
  Debian or PyPI package; no binary downloads), so these tests send exactly
  the check request its documentation describes — the original method, the
  path ``path_prefix`` + original path and query, the original ``Host``
  (``:authority``), ``Authorization``, ``x-forwarded-proto``,
  ``Content-Length: 0`` and Envoy's own ``x-request-id``/``x-envoy-*`` — and
  check the documented answer contract: a ``200`` allows, and its headers
  listed in ``allowed_upstream_headers`` are added upstream; any other status
  denies, and that status, ``WWW-Authenticate`` and the body go to the client.
* **Trusted peers.**  A check from an address outside
  ``server.trusted_proxies`` is refused (the test connects from 127.0.0.2,
  the gateway trusts 127.0.0.1/32 only); ``/apis/auth/authenticate`` needs no
  trust (it reads no forwarded headers).
* **Refusal of missing / malformed descriptions**, and 404 for any other
  path in a dedicated gateway (``gateway.proxy_upstream: false``).
"""

from __future__ import annotations

import http.client
import json
from typing import Any

import pytest

from tests.hostile import forge

from .conftest import GatewayEnv

pytestmark = pytest.mark.integration

PREFIX = "/apis/auth/ext-authz"


def call(
    env: GatewayEnv,
    method: str,
    target: str,
    headers: dict[str, str],
    *,
    source: str = "127.0.0.1",
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection(
        "127.0.0.1", env.gateway.port, timeout=10, source_address=(source, 0)
    )
    try:
        conn.request(method, target, headers=headers)
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def token(env: GatewayEnv, sub: str = "erin", **claims: Any) -> str:
    return env.key.sign(forge.claims(env.idp.issuer, sub, **claims))


def envoy_headers(env: GatewayEnv, auth: str | None) -> dict[str, str]:
    headers = {
        "Host": "api.example.com",
        "x-forwarded-proto": "https",
        "x-request-id": "5c1c4b5e-0000-4000-8000-000000000001",
        "x-envoy-expected-rq-timeout-ms": "200",
        "Content-Length": "0",
    }
    if auth is not None:
        headers["Authorization"] = f"Bearer {auth}"
    return headers


def test_envoy_ext_authz_contract(gateway_env: GatewayEnv) -> None:
    env = gateway_env
    status, headers, body = call(
        env, "GET", PREFIX + "/apis/things?page=2", envoy_headers(env, token(env))
    )
    assert status == 200 and body == b""
    assert headers["x-nmp-principal-id"] == "erin"
    assert headers["x-nmp-principal-email"] == "erin@example.com"
    assert headers["x-nmp-scopes"] == "openid platform:read platform:write"
    assert headers["cache-control"] == "no-store"

    status, headers, body = call(
        env, "DELETE", PREFIX + "/apis/files/a", envoy_headers(env, token(env))
    )
    assert status == 403 and 'error="insufficient_scope"' in headers["www-authenticate"]
    assert json.loads(body)["error"] == "insufficient_scope"
    assert "x-nmp-principal-id" not in headers

    status, headers, _ = call(env, "GET", PREFIX + "/apis/things", envoy_headers(env, None))
    assert status == 401 and headers["www-authenticate"] == 'Bearer realm="authgate"'

    status, headers, _ = call(env, "GET", PREFIX + "/public/page", envoy_headers(env, None))
    assert status == 200 and "x-nmp-principal-id" not in headers  # public: no identity

    for trick in ("/public/../apis/things", "/public/%2e%2e/apis/things", "/apis/files%2fa"):
        status, _, body = call(env, "GET", PREFIX + trick, envoy_headers(env, token(env)))
        assert status == 400, trick
    # A prefix match inside a segment is not the ext_authz path.
    status, _, _ = call(env, "GET", PREFIX + "x/apis/things", envoy_headers(env, token(env)))
    assert status == 404


def test_checks_refuse_untrusted_peers(gateway_env: GatewayEnv) -> None:
    env = gateway_env
    auth = {"Authorization": f"Bearer {token(env)}"}
    checks = [
        ("/apis/auth/check", {"X-Original-Method": "GET", "X-Original-URI": "/apis/things"}, 403),
        (
            "/apis/auth/forward-auth",
            {
                "X-Forwarded-Method": "GET",
                "X-Forwarded-Uri": "/apis/x",
                "X-Forwarded-Host": "h",
                "X-Forwarded-Proto": "https",
            },
            403,
        ),
        (PREFIX + "/apis/things", {}, 403),
    ]
    for path, described, expected in checks:
        trusted, headers, _ = call(env, "GET", path, {**auth, **described})
        assert trusted == 200 and headers["x-nmp-principal-id"] == "erin", path
        status, headers, body = call(env, "GET", path, {**auth, **described}, source="127.0.0.2")
        assert status == expected, path
        assert json.loads(body)["reason"] == "untrusted_gateway"
        assert "x-nmp-principal-id" not in headers
    # "Who am I" reads no forwarded headers: any peer may ask.
    status, headers, body = call(env, "GET", "/apis/auth/authenticate", auth, source="127.0.0.2")
    assert status == 200 and headers["content-type"].startswith("application/json")
    assert headers["x-nmp-principal-id"] == "erin"
    document = json.loads(body)
    assert document["id"] == "erin" and document["email"] == "erin@example.com"
    assert document["scopes"] == ["openid", "platform:read", "platform:write"]
    assert document["issuer"] == env.idp.issuer and document["expires_at"] > 0


def test_authenticate_denials(gateway_env: GatewayEnv) -> None:
    env = gateway_env
    status, headers, body = call(env, "GET", "/apis/auth/authenticate", {})
    assert status == 401 and headers["www-authenticate"] == 'Bearer realm="authgate"'
    assert json.loads(body)["reason"] == "missing_token"
    expired = token(env, ttl=-120)
    status, headers, body = call(
        env, "POST", "/apis/auth/authenticate", {"Authorization": f"Bearer {expired}"}
    )
    assert status == 401 and 'error="invalid_token"' in headers["www-authenticate"]
    assert expired not in body.decode()


@pytest.mark.parametrize(
    ("path", "described", "expected"),
    [
        ("/apis/auth/check", {"X-Original-URI": "/apis/things"}, 403),  # no method
        ("/apis/auth/check", {"X-Original-Method": "GET"}, 403),  # no URI
        ("/apis/auth/check", {"X-Original-Method": "GET", "X-Original-URI": "apis"}, 403),
        ("/apis/auth/forward-auth", {"X-Forwarded-Method": "GET", "X-Forwarded-Uri": "/x"}, 400),
        (
            "/apis/auth/forward-auth",
            {
                "X-Forwarded-Method": "GET",
                "X-Forwarded-Uri": "/x",
                "X-Forwarded-Host": "h",
                "X-Forwarded-Proto": "h2c",
            },
            400,
        ),
    ],
)
def test_missing_or_malformed_descriptions_are_refused(
    gateway_env: GatewayEnv, path: str, described: dict[str, str], expected: int
) -> None:
    """nginx's check answers 403 (``auth_request`` only passes 401/403 on)."""
    auth = {"Authorization": f"Bearer {token(gateway_env)}"}
    status, headers, body = call(gateway_env, "GET", path, {**auth, **described})
    assert status == expected
    assert json.loads(body)["reason"] == "invalid_gateway_request"
    assert "x-nmp-principal-id" not in headers


def test_dedicated_gateway_proxies_nothing(gateway_env: GatewayEnv) -> None:
    before = gateway_env.upstream.count()
    status, _, body = call(
        gateway_env, "GET", "/apis/things", {"Authorization": f"Bearer {token(gateway_env)}"}
    )
    assert status == 404 and json.loads(body)["reason"] == "not_found"
    assert gateway_env.upstream.count() == before

"""Issue 13's login checks without a real IdP: a login that cannot work says so (an
opaque access token, another issuer), the `resource`/`audience` the discovery
document asks for is sent with the token request, and https against an http
platform is named as such rather than "is it running?"."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs

import pytest

from tests.support.httpserver import LoopbackHTTPServer, Request

from .client_harness import CannedServer, Cli, assert_clean_failure
from .test_token_sources import jwt_like

pytestmark = pytest.mark.integration


class TokenEndpoint(LoopbackHTTPServer):
    """An IdP token endpoint that answers every POST with ``body`` and records the forms."""

    def __init__(self, body: dict[str, Any]) -> None:
        self.forms: list[dict[str, str]] = []
        payload = json.dumps(body).encode()

        def respond(request: Request) -> tuple[int, bytes]:
            form = parse_qs(request.body.decode())
            self.forms.append({k: v[0] for k, v in form.items()})
            return 200, payload

        super().__init__(respond, methods=("POST",))


def platform_document(idp: str, **oidc: Any) -> dict[str, Any]:
    return {
        "auth_enabled": True,
        "oidc": {
            "issuer": "https://idp.example/realms/x",
            "token_endpoint": idp + "/token",
            "client_id": "cli",
            "default_scopes": "openid platform:read",
            "accepted_audiences": ["api://platform"],
            **oidc,
        },
    }


@pytest.fixture
def opaque_idp() -> Iterator[TokenEndpoint]:
    idp = TokenEndpoint({"access_token": "opaque-8f3a2c", "expires_in": 300})
    yield idp
    idp.close()


def login(cli: Cli, url: str) -> Any:
    return cli.run("login", "--base-url", url, "--username", "ci", "--password-stdin", input="pw\n")


def test_opaque_token_login_warns_and_names_the_setting(
    cli: Cli, opaque_idp: TokenEndpoint
) -> None:
    with CannedServer.json(platform_document(opaque_idp.url)) as platform:
        result = login(cli, platform.url)
    assert result.returncode == 0, result.stderr
    assert "opaque (non-JWT) access token" in result.stderr
    assert "oidc.request_resource or oidc.request_audience" in result.stderr
    assert "opaque-8f3a2c" not in result.stdout + result.stderr


def test_resource_from_discovery_is_sent_and_named(cli: Cli, opaque_idp: TokenEndpoint) -> None:
    params = {"resource": "https://api.platform.example/"}
    document = platform_document(opaque_idp.url, token_request_params=params)
    with CannedServer.json(document) as platform:
        result = login(cli, platform.url)
    assert opaque_idp.forms[-1]["resource"] == "https://api.platform.example/"
    assert "the platform already requests resource=https://api.platform.example/" in (result.stderr)


def test_another_issuer_is_named(cli: Cli) -> None:
    token = jwt_like(iss="https://other.example", aud="api://platform")
    idp = TokenEndpoint({"access_token": token, "expires_in": 300})
    try:
        with CannedServer.json(platform_document(idp.url)) as platform:
            result = login(cli, platform.url)
    finally:
        idp.close()
    assert result.returncode == 0, result.stderr
    assert "issued one from 'https://other.example' (bad_issuer)" in result.stderr
    assert "logging in again will not help" in result.stderr


def test_https_against_an_http_platform(cli: Cli) -> None:
    with CannedServer.json({"auth_enabled": False}) as platform:
        result = cli.run("login", "--base-url", platform.url.replace("http://", "https://"))
    assert_clean_failure(result, 6, "does not speak TLS: it is probably plain http")
    assert "is it running" not in result.stderr

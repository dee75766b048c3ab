"""Parsing the discovery document: every defect gets a precise message (pure)."""

from __future__ import annotations

import json

import pytest

from authgate.client.discovery import normalize_base_url, parse_discovery
from authgate.client.errors import DiscoveryError, UsageError

BASE = "https://platform.example"
GOOD = {
    "auth_enabled": True,
    "oidc": {
        "issuer": "https://idp/realms/x",
        "token_endpoint": "https://idp/token",
        "device_authorization_endpoint": "https://idp/device",
        "client_id": "authgate-cli",
        "default_scopes": "platform:read openid",
        "scope_prefix": "api://nmp/",
    },
}


def parse(document: object, status: int = 200, content_type: str = "application/json"):
    return parse_discovery(BASE, status, content_type, json.dumps(document).encode())


def test_good_document() -> None:
    found = parse(GOOD)
    assert found.auth_enabled and not found.quickstart
    assert found.token_endpoint == "https://idp/token"
    assert found.scope_prefix == "api://nmp/"


def test_auth_disabled() -> None:
    found = parse({"auth_enabled": False})
    assert found.auth_enabled is False


def test_quickstart_flag() -> None:
    found = parse({"auth_enabled": True, "quickstart": True, "login_hint": "authgate login"})
    assert found.quickstart and found.login_hint == "authgate login"


def test_404_is_not_authgate() -> None:
    with pytest.raises(DiscoveryError, match=r"does not look like an authgate platform.*404"):
        parse_discovery(BASE, 404, "text/plain", b"not found")


def test_html_is_not_authgate() -> None:
    with pytest.raises(DiscoveryError, match="HTML page"):
        parse_discovery(BASE, 200, "text/html; charset=utf-8", b"<html></html>")


def test_non_json() -> None:
    with pytest.raises(DiscoveryError, match="did not return JSON"):
        parse_discovery(BASE, 200, "application/json", b"{nope")


@pytest.mark.parametrize(
    ("document", "expect"),
    [
        ({"auth_enabled": "yes"}, "'auth_enabled' must be true or false"),
        ({"auth_enabled": True}, "'oidc' must be an object"),
        ({"auth_enabled": True, "oidc": {"issuer": "x"}}, "oidc.client_id: missing"),
        (
            {"auth_enabled": True, "oidc": {**GOOD["oidc"], "token_endpoint": "ftp://x"}},
            "oidc.token_endpoint: not an http",
        ),
        (
            {"auth_enabled": True, "oidc": {**GOOD["oidc"], "client_id": 5}},
            "oidc.client_id: must be a string",
        ),
    ],
)
def test_malformed(document: object, expect: str) -> None:
    with pytest.raises(DiscoveryError, match="malformed discovery document") as caught:
        parse(document)
    assert expect in str(caught.value)


def test_missing_token_endpoint_means_the_idp_is_unreachable() -> None:
    """A proxy restarted while its IdP is down publishes no token endpoint: that is
    not a malformed document, and the client says what it means (issue 13)."""
    from authgate.client.discovery import unavailable_idp
    from authgate.client.errors import ExitCode

    oidc = {k: v for k, v in GOOD["oidc"].items() if k != "token_endpoint"}
    found = parse({"auth_enabled": True, "oidc": {**oidc, "endpoints_unknown": "not reached"}})
    assert found.token_endpoint is None
    error = unavailable_idp(BASE, found)
    assert "cannot currently reach its identity provider (not reached)" in error.message
    assert "malformed" not in error.message and error.exit_code == ExitCode.UNREACHABLE


@pytest.mark.parametrize("document", [{"oidc": {}}, [1, 2], {"method": "GET", "path": "/"}])
def test_json_of_another_shape_is_not_authgate(document: object) -> None:
    with pytest.raises(DiscoveryError, match="not a discovery document"):
        parse(document)


def test_server_error() -> None:
    with pytest.raises(DiscoveryError, match="HTTP 503"):
        parse_discovery(BASE, 503, "text/plain", b"")


@pytest.mark.parametrize("bad", ["platform.example", "ftp://x", "https://u:p@x", "https://x/?q=1"])
def test_bad_base_urls(bad: str) -> None:
    with pytest.raises(UsageError):
        normalize_base_url(bad)


def test_base_url_trailing_slash() -> None:
    assert normalize_base_url(" https://x:8443/prefix/ ") == "https://x:8443/prefix"

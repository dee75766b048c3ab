"""The operator's IdP check against the real Keycloak (no API server needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from authgate.operator.idp import IdPCheckFailed, check_idp, endpoints_of

pytestmark = [pytest.mark.integration]


async def test_keycloak_discovery_and_keys(keycloak: Any) -> None:
    ca = Path(keycloak.ca_file).read_text()
    result = await check_idp({"issuer": keycloak.issuer}, ca, 5.0)
    assert result.signing_keys >= 1
    assert result.metadata.token_endpoint == keycloak.token_endpoint
    ep = endpoints_of(
        {"issuer": keycloak.issuer, "tokenEndpoint": "https://override.example/t"}, result.metadata
    )
    assert ep["tokenEndpoint"] == "https://override.example/t"
    assert ep["deviceAuthorizationEndpoint"] == keycloak.device_endpoint


async def test_keycloak_failures_have_reasons(keycloak: Any) -> None:
    ca = Path(keycloak.ca_file).read_text()
    with pytest.raises(IdPCheckFailed) as info:
        await check_idp({"issuer": keycloak.issuer}, None, 5.0)  # CA not trusted
    assert info.value.reason == "IssuerUnreachable"
    with pytest.raises(IdPCheckFailed) as info:
        await check_idp({"issuer": keycloak.issuer + "/"}, ca, 5.0)
    assert info.value.reason == "IssuerMismatch"
    with pytest.raises(IdPCheckFailed) as info:
        await check_idp({"issuer": keycloak.issuer + "-nope"}, ca, 5.0)
    assert info.value.reason == "DiscoveryFailed"
    with pytest.raises(IdPCheckFailed) as info:
        await check_idp({"issuer": keycloak.issuer}, "not a pem", 5.0)
    assert info.value.reason == "InvalidCABundle"


async def test_jwks_override_and_additional_issuers(fake_idp: Any) -> None:
    from .operator_helpers import no_keys_idp

    key = {
        "kty": "EC",
        "crv": "P-256",
        "kid": "k1",
        "use": "sig",
        "alg": "ES256",
        "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
        "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
    }
    fake_idp.jwks = {"keys": []}
    with no_keys_idp() as other:
        other.jwks = {"keys": [key]}
        # The override replaces the (empty) discovered JWKS.
        ok = await check_idp({"issuer": fake_idp.issuer, "jwksUri": other.jwks_uri}, None, 5.0)
        assert ok.signing_keys == 1
        # Each additional issuer is discovered and its keys counted.
        fake_idp.jwks = {"keys": [key]}
        both = await check_idp(
            {"issuer": fake_idp.issuer, "additionalIssuers": [other.issuer]}, None, 5.0
        )
        assert both.signing_keys == 2
        other.discovery = {"issuer": "http://elsewhere", "jwks_uri": other.jwks_uri}
        with pytest.raises(IdPCheckFailed) as info:
            await check_idp(
                {"issuer": fake_idp.issuer, "additionalIssuers": [other.issuer]}, None, 5.0
            )
        assert info.value.reason == "IssuerMismatch"

"""spec.issuers (camelCase, as in the CRD) renders into ProxyConfig.issuers, and its
errors come back under spec paths."""

from __future__ import annotations

import pytest

from authgate.operator.render import RenderError, render
from authgate.operator.settings import OperatorSettings

SPEC = {
    "issuer": "https://idp.example/realms/corp",
    "clientId": "authgate-cli",
    "audience": ["api://nmp"],
    "requestResource": "https://api.example/",
    "headers": {"podName": "X-Calling-Pod"},
    "issuers": [
        {
            "name": "cluster",
            "kind": "kubernetes",
            "issuer": "https://kubernetes.default.svc.cluster.local",
            "audience": ["https://orders.example"],
            "tokenFile": "",
            "kubernetes": {
                "apiServer": "https://kubernetes.default.svc",
                "allowedServiceAccounts": [
                    {"namespace": "jobs", "name": "*", "scopes": ["platform:read"]}
                ],
            },
        }
    ],
}


def test_issuers_render() -> None:
    config = render(SPEC, OperatorSettings(), None).config
    entry = config.issuers[0]
    assert entry.kind == "kubernetes" and entry.effective_token_file is None
    assert entry.kubernetes.allowed_service_accounts[0].scopes == ("platform:read",)
    assert config.oidc.request_resource == "https://api.example/"
    assert config.headers.pod_name == "X-Calling-Pod"


def test_issuer_errors_name_spec_paths() -> None:
    bad = {
        **SPEC,
        "issuers": [
            {
                **SPEC["issuers"][0],
                "kubernetes": {  # type: ignore[dict-item]
                    "allowedServiceAccounts": [{"namespace": "jobs"}]
                },
            }
        ],
    }
    with pytest.raises(RenderError) as info:
        render(bad, OperatorSettings(), None)
    assert any(
        e.startswith("spec.issuers[0].kubernetes.allowedServiceAccounts[0].scopes: required")
        for e in info.value.errors
    ), info.value.errors

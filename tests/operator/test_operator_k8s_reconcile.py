"""OIDCProvider -> ConfigMap + status + discovery, against the real API server and Keycloak."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from kubernetes import client

from authgate.core.config import parse_config

from .operator_helpers import Providers, eventually, keycloak_spec

pytestmark = [pytest.mark.k8s, pytest.mark.keycloak, pytest.mark.integration]


def test_provider_lifecycle_against_keycloak(
    kube: Any, keycloak: Any, namespace: str, start_operator: Any
) -> None:
    op = start_operator(namespace)
    providers = Providers(kube, namespace)
    assert op.discovery().json() == {"auth_enabled": False}

    providers.create("corp", keycloak_spec(keycloak, scopePrefix="", default=True))
    ready = providers.wait_ready("corp", "True")
    assert ready["reason"] == "Ready" and ready["observedGeneration"] == 1

    obj = providers.get("corp")
    status = obj["status"]
    assert status["signingKeys"] >= 1
    assert status["endpoints"]["tokenEndpoint"] == keycloak.token_endpoint
    assert status["endpoints"]["deviceAuthorizationEndpoint"] == keycloak.device_endpoint
    types = {c["type"]: c["status"] for c in status["conditions"]}
    assert types == {"Ready": "True", "DiscoveryFetched": "True", "ConfigRendered": "True"}

    cm = providers.configmap("corp")
    owner = cm["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["uid"]) == (
        "OIDCProvider",
        "corp",
        obj["metadata"]["uid"],
    )
    first_hash = cm["metadata"]["annotations"]["authgate.io/config-hash"]
    assert status["configHash"] == first_hash
    config = parse_config(yaml.safe_load(cm["data"]["config.yaml"]))
    assert config.oidc.issuer == keycloak.issuer
    assert config.oidc.audience == (keycloak.audience,)
    assert config.keys.ca_file == "/etc/authgate/ca.crt"
    assert cm["data"]["ca.crt"].startswith("-----BEGIN CERTIFICATE-----")

    printed = kube.kubectl("get", "oidcproviders", "-n", namespace).stdout
    print(printed)
    header, row = printed.splitlines()[:2]
    assert header.split() == ["NAME", "ISSUER", "READY", "REASON", "AGE"]
    assert row.split()[:4] == ["corp", keycloak.issuer, "True", "Ready"]

    doc = eventually(
        lambda: (d := op.discovery().json()).get("auth_enabled") and d,
        timeout=15,
        what="discovery serving corp",
    )
    assert doc["oidc"]["issuer"] == keycloak.issuer
    assert doc["oidc"]["client_id"] == keycloak.cli_client_id
    assert doc["oidc"]["token_endpoint"] == keycloak.token_endpoint

    # Update: the ConfigMap and the discovery document follow.
    providers.patch("corp", {"audience": ["api://other"], "scopePrefix": "api://nmp/"})

    def updated() -> dict[str, Any] | None:
        cm = providers.configmap("corp")
        if cm and cm["metadata"]["annotations"]["authgate.io/config-hash"] != first_hash:
            return cm
        return None

    cm = eventually(updated, timeout=30, what="ConfigMap updated")
    assert parse_config(yaml.safe_load(cm["data"]["config.yaml"])).oidc.audience == ("api://other",)
    assert providers.wait_ready("corp", generation=2)["observedGeneration"] == 2
    eventually(
        lambda: op.discovery().json()["oidc"]["scope_prefix"] == "api://nmp/",
        timeout=15,
        what="discovery shows the new scope prefix",
    )

    # A named provider; the default rule with two providers.
    providers.create("second", keycloak_spec(keycloak, clientId="other-cli"))
    providers.wait_ready("second")
    named = eventually(lambda: op.discovery(f"{namespace}/second").json(), timeout=15)
    assert named["oidc"]["client_id"] == "other-cli"
    assert op.discovery().json()["oidc"]["client_id"] == keycloak.cli_client_id  # default: true
    assert op.discovery(f"{namespace}/nope").status_code == 404
    providers.patch("corp", {"default": False})
    eventually(
        lambda: op.discovery().status_code == 409,
        timeout=15,
        what="two providers, no default -> 409",
    )

    metrics = httpx.get(f"{op.base_url}/metrics", timeout=5).text
    assert 'authgate_operator_reconciles_total{result="ready"}' in metrics
    assert 'authgate_operator_discovery_requests_total{result="ambiguous"}' in metrics

    # Events were posted for the transitions.
    def ready_event() -> bool:
        events = (
            client.CoreV1Api(kube.api_client())
            .list_namespaced_event(namespace, field_selector="involvedObject.name=corp")
            .items
        )
        return any(
            e.reason == "Ready" and e.type == "Normal" and e.message.startswith("Ready is True")
            for e in events
        )

    eventually(ready_event, timeout=15, what="a Normal 'Ready' Event for corp")

    # A ConfigMap deleted by hand comes back with the next re-check.
    providers.core.delete_namespaced_config_map("authgate-second", namespace)
    eventually(
        lambda: providers.configmap("second") is not None,
        timeout=30,
        what="ConfigMap restored by the re-check timer",
    )

    # Delete: the ConfigMap goes too (explicitly; the test API server has no GC).
    providers.delete("corp")
    providers.delete("second")
    eventually(
        lambda: providers.configmap("corp") is None and providers.get("corp") is None,
        timeout=30,
        what="ConfigMap and provider deleted",
    )
    eventually(
        lambda: op.discovery().json() == {"auth_enabled": False},
        timeout=15,
        what="discovery back to auth disabled",
    )
    assert op.alive()


def test_bad_inputs_end_as_ready_false_with_a_precise_reason(
    kube: Any, keycloak: Any, namespace: str, start_operator: Any, fake_idp: Any
) -> None:
    op = start_operator(namespace)
    providers = Providers(kube, namespace)
    closed = f"https://127.0.0.1:{fake_idp.port + 1}/realms/none"  # nothing listens there
    providers.create("unreachable", {"issuer": closed, "clientId": "cli"})
    providers.create("mismatch", keycloak_spec(keycloak, issuer=keycloak.issuer + "/"))
    providers.create("nokeys", {"issuer": fake_idp.issuer, "clientId": "cli"})
    providers.create(
        "badspec",
        {
            **keycloak_spec(keycloak),
            "authorization": {
                "rules": [
                    {"pathPrefix": "/a/", "readScopes": ["x"]},
                    {"pathPrefix": "/a/", "readScopes": ["y"]},
                ]
            },
        },
    )
    providers.create("noca", {"issuer": keycloak.issuer, "clientId": "cli"})
    providers.create(
        "cmca", {"issuer": keycloak.issuer, "clientId": "cli", "caConfigMap": {"name": "idp-ca"}}
    )

    assert (
        "127.0.0.1" in providers.wait_ready("unreachable", "False", "IssuerUnreachable")["message"]
    )
    mismatch = providers.wait_ready("mismatch", "False", "IssuerMismatch")
    assert "OIDC Discovery" in mismatch["message"]
    assert (
        "no usable signing key"
        in providers.wait_ready("nokeys", "False", "NoSigningKeys")["message"]
    )
    bad = providers.wait_ready("badspec", "False", "InvalidSpec")
    assert "spec.authorization.rules[1].pathPrefix" in bad["message"]
    assert providers.configmap("badspec") is None
    # Without the CA bundle, Keycloak's certificate is not trusted.
    noca = providers.wait_ready("noca", "False", "IssuerUnreachable")
    assert "certificate" in noca["message"].lower()
    print(kube.kubectl("get", "oidcproviders", "-n", namespace).stdout)
    # The CA bundle from a ConfigMap: missing -> a precise reason; created -> Ready.
    missing = providers.wait_ready("cmca", "False", "CABundleNotFound")
    assert f"ConfigMap {namespace}/idp-ca not found" in missing["message"]
    providers.core.create_namespaced_config_map(
        namespace,
        {"metadata": {"name": "idp-ca"}, "data": {"ca.crt": Path(keycloak.ca_file).read_text()}},
    )
    providers.wait_ready("cmca", "True")
    assert providers.configmap("cmca")["data"]["ca.crt"].startswith("-----BEGIN CERTIFICATE")

    # Rendering does not depend on the IdP: the unreachable one still has its ConfigMap.
    assert providers.condition("unreachable", "ConfigRendered")["status"] == "True"
    assert providers.configmap("unreachable") is not None

    # Fixing the spec flips Ready (the JWKS gains a key; the re-check timer notices).
    import json

    from cryptography.hazmat.primitives.asymmetric import ec
    from jwt.algorithms import ECAlgorithm

    jwk = json.loads(ECAlgorithm.to_jwk(ec.generate_private_key(ec.SECP256R1()).public_key()))
    fake_idp.jwks = {"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "ES256"}]}
    assert providers.wait_ready("nokeys", "True")["reason"] == "Ready"
    providers.patch("mismatch", {"issuer": keycloak.issuer})
    providers.wait_ready("mismatch", "True", generation=2)
    assert op.alive(), "the operator must never crash on bad input"

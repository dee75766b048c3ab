"""A spec update that fails the IdP checks never replaces the last good ConfigMap.

Against the real API server and Keycloak: a Ready provider is patched to a
spec whose issuer does not match its discovery document, then to one that
does not render; the ConfigMap the pods mount keeps generation 1's config and
``ConfigRendered`` says so (``LastGoodConfigKept``).  A spec that passes then
replaces it.  A provider that never passed still gets an (unverified)
ConfigMap so pods can start and fail closed.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import yaml

from .operator_helpers import Providers, eventually, keycloak_spec

pytestmark = [pytest.mark.k8s, pytest.mark.keycloak, pytest.mark.integration]

VERIFIED = "authgate.io/verified-generation"


def _verified(providers: Providers, name: str) -> str | None:
    cm = providers.configmap(name)
    return None if cm is None else cm["metadata"]["annotations"].get(VERIFIED)


def test_failed_update_keeps_last_good_configmap(
    kube: Any, keycloak: Any, namespace: str, start_operator: Any, fake_idp: Any
) -> None:
    op = start_operator(namespace)
    providers = Providers(kube, namespace)
    providers.create("corp", keycloak_spec(keycloak))
    providers.wait_ready("corp", "True")
    good = providers.configmap("corp")
    assert good is not None
    assert good["metadata"]["annotations"][VERIFIED] == "1"

    # Generation 2: the discovery document names another issuer.
    providers.patch("corp", {"issuer": keycloak.issuer + "/"})
    providers.wait_ready("corp", "False", "IssuerMismatch", generation=2)
    rendered = providers.condition("corp", "ConfigRendered")
    assert rendered is not None
    assert (rendered["status"], rendered["reason"]) == ("True", "LastGoodConfigKept")
    assert "generation 1" in rendered["message"] and "generation 2" in rendered["message"]
    # Discovery describes what the sidecars accept (generation 1), not the failing spec.
    served = good_discovery = op.discovery().json()
    assert served["oidc"]["issuer"] == keycloak.issuer, served
    time.sleep(4)  # > one --recheck-interval (3 s): the timer must not overwrite it either
    assert op.discovery().json() == good_discovery  # also after re-lists and timer runs
    kept = providers.configmap("corp")
    assert kept is not None and kept["data"] == good["data"]
    assert (
        providers.get("corp")["status"]["configHash"]
        == (  # type: ignore[index]
            good["metadata"]["annotations"]["authgate.io/config-hash"]
        )
    )

    # Generation 3: a spec the proxy's validator rejects; still the same ConfigMap.
    providers.patch(
        "corp",
        {
            "issuer": keycloak.issuer,
            "authorization": {
                "rules": [
                    {"pathPrefix": "/a/", "readScopes": ["x"]},
                    {"pathPrefix": "/a/", "readScopes": ["y"]},
                ]
            },
        },
    )
    invalid = providers.wait_ready("corp", "False", "InvalidSpec", generation=3)
    assert "keeps the config of generation 1" in invalid["message"]
    assert providers.configmap("corp")["data"] == good["data"]  # type: ignore[index]
    assert op.discovery().json() == good_discovery  # a spec that does not render: the same

    # Generation 4: a spec that passes replaces it.
    providers.patch("corp", {"authorization": None, "audience": ["api://other"]})
    providers.wait_ready("corp", "True", generation=4)
    eventually(
        lambda: _verified(providers, "corp") == "4",
        timeout=30,
        what="ConfigMap replaced by the verified generation 4",
    )
    new = providers.configmap("corp")
    assert new is not None and new["data"] != good["data"]
    assert yaml.safe_load(new["data"]["config.yaml"])["oidc"]["audience"] == ["api://other"]
    print(f"kept generation 1 through IssuerMismatch and InvalidSpec: {rendered['message']!r}")

    # Never passed: an unverified ConfigMap (pods start and fail closed).
    providers.create(
        "fresh", {"issuer": f"https://127.0.0.1:{fake_idp.port + 1}/x", "clientId": "cli"}
    )
    providers.wait_ready("fresh", "False", "IssuerUnreachable")
    assert providers.condition("fresh", "ConfigRendered")["reason"] == "Rendered"  # type: ignore[index]
    assert _verified(providers, "fresh") == ""
    assert op.alive()

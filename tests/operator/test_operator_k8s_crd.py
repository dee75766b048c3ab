"""The generated CRD on the real API server: Established, explainable, validating."""

from __future__ import annotations

from typing import Any

import pytest

from .operator_helpers import eventually

pytestmark = [pytest.mark.k8s, pytest.mark.integration]


def test_crd_is_established_and_explained(kube: Any, crds: None) -> None:
    out = kube.kubectl(
        "get",
        "crd",
        "oidcproviders.authgate.io",
        "-o",
        "jsonpath={.status.conditions[?(@.type=='Established')].status}",
    )
    assert out.stdout == "True"

    def explain() -> str:
        result = kube.kubectl("explain", "oidcproviders.spec", check=False)
        return result.stdout if result.returncode == 0 and "issuer" in result.stdout else ""

    text = eventually(explain, timeout=60, what="kubectl explain oidcproviders.spec")
    assert "Issuer URL of the IdP" in text
    assert "clientId" in text and "-required-" in text
    leeway = kube.kubectl("explain", "oidcproviders.spec.tuning.leewaySeconds").stdout
    assert "clock skew allowed" in leeway


BASE = {"issuer": "https://idp.example.com/realms/x", "clientId": "cli"}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({**BASE, "issuer": "http://idp.example.com/realms/x"}, "must be an https URL"),
        ({"issuer": BASE["issuer"]}, "spec.clientId: Required value"),
        ({**BASE, "headers": {"preset": "custom"}}, 'Unsupported value: "custom"'),
        ({**BASE, "tuning": {"algorithms": ["HS256"]}}, 'Unsupported value: "HS256"'),
        ({**BASE, "clientId": "x" * 300}, "may not be more than 256"),
        ({**BASE, "tuning": {"leewaySeconds": 601}}, "should be less than or equal to 600"),
        ({**BASE, "caBundle": "x", "caConfigMap": {"name": "ca"}}, "set caBundle or caConfigMap"),
    ],
)
def test_invalid_objects_are_rejected_with_the_schema_message(
    kube: Any, namespace: str, spec: dict[str, Any], message: str
) -> None:
    import yaml

    doc = {
        "apiVersion": "authgate.io/v1alpha1",
        "kind": "OIDCProvider",
        "metadata": {"name": "bad", "namespace": namespace},
        "spec": spec,
    }
    result = kube.kubectl("apply", "-f", "-", input=yaml.safe_dump(doc), check=False)
    assert result.returncode != 0
    assert message in result.stderr, result.stderr


def test_http_issuer_on_loopback_is_accepted(kube: Any, namespace: str) -> None:
    import yaml

    doc = {
        "apiVersion": "authgate.io/v1alpha1",
        "kind": "OIDCProvider",
        "metadata": {"name": "local", "namespace": namespace},
        "spec": {**BASE, "issuer": "http://127.0.0.1:8080/realms/x"},
    }
    kube.kubectl("apply", "-f", "-", input=yaml.safe_dump(doc))
    got = kube.kubectl(
        "get",
        "oidcprovider",
        "local",
        "-n",
        namespace,
        "-o",
        "jsonpath={.spec.tuning.leewaySeconds} {.spec.headers.preset}",
    ).stdout
    assert got == "60 nemo", "defaults from the config model are applied by the API server"

"""The chart's ``mode`` value (helm template, no cluster): ``sidecar`` renders no
gateway, ``gateway`` renders a scalable gateway Deployment + Service loading the
provider's rendered ConfigMap and registers no injection webhook, ``both`` does
both.  (The server-side dry run of ``ci/gateway-values.yaml`` is in test_chart.py.)"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from .charts import CHART, Helm, HelmError, by_kind, one


@pytest.fixture(scope="module")
def helm(helm_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Helm:
    return Helm(helm_bin, home=tmp_path_factory.mktemp("helm-home"))


def _gateway_docs(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [d for d in docs if d["metadata"]["name"].endswith("-gateway")]


def _env(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container["env"]}


def test_sidecar_mode_renders_no_gateway(helm: Helm) -> None:
    docs = helm.template()
    assert _gateway_docs(docs) == []
    assert by_kind(docs, "MutatingWebhookConfiguration")


def test_gateway_mode(helm: Helm) -> None:
    docs = helm.template(values_files=[CHART / "ci" / "gateway-values.yaml"])
    assert not by_kind(docs, "MutatingWebhookConfiguration")  # no injection
    deployment = one(docs, "Deployment", "authgate-gateway")
    assert deployment["spec"]["replicas"] == 3
    labels = deployment["spec"]["selector"]["matchLabels"]
    assert labels["app.kubernetes.io/component"] == "gateway"
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["args"] == ["proxy", "--config", "/etc/authgate/config.yaml"]
    env = _env(container)
    assert env["AUTHGATE__GATEWAY__ENABLED"] == "true"
    assert env["AUTHGATE__GATEWAY__PROXY_UPSTREAM"] == "false"
    assert json.loads(env["AUTHGATE__SERVER__TRUSTED_PROXIES"]) == ["10.42.0.0/16"]
    assert env["AUTHGATE__GATEWAY__CACHE_SIZE"] == "10000"
    volume = next(v for v in pod["volumes"] if v["name"] == "config")
    assert volume["configMap"]["name"] == "authgate-corp"  # operator/render.py configmap_name
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    service = one(docs, "Service", "authgate-gateway")
    assert service["spec"]["selector"] == labels
    assert {p["name"]: p["port"] for p in service["spec"]["ports"]} == {"http": 80, "admin": 4181}
    # The operator's own Service must not select gateway pods, nor the reverse.
    operator_service = one(docs, "Service", "authgate")
    assert operator_service["spec"]["selector"]["app.kubernetes.io/component"] == "operator"


def test_both_mode_keeps_injection(helm: Helm) -> None:
    docs = helm.template(sets=["mode=both"])
    assert by_kind(docs, "MutatingWebhookConfiguration")
    assert len(_gateway_docs(docs)) == 2
    env = _env(
        one(docs, "Deployment", "authgate-gateway")["spec"]["template"]["spec"]["containers"][0]
    )
    assert json.loads(env["AUTHGATE__SERVER__TRUSTED_PROXIES"]) == []  # trusts none by default


def test_schema_rejects_an_unknown_mode(helm: Helm) -> None:
    with pytest.raises(HelmError, match="mode"):
        helm.template(sets=["mode=ingress"])

"""Restarts and replicas: nothing lost, nobody fights."""

from __future__ import annotations

import base64
import json
import signal
import ssl
from typing import Any

import httpx
import pytest
from kubernetes import client

from .operator_helpers import Providers, eventually, keycloak_spec

pytestmark = [pytest.mark.k8s, pytest.mark.keycloak, pytest.mark.integration, pytest.mark.slow]


def test_restart_mid_work_converges(
    kube: Any, keycloak: Any, namespace: str, start_operator: Any
) -> None:
    op = start_operator(namespace)
    providers = Providers(kube, namespace)
    providers.create("keep", keycloak_spec(keycloak))
    providers.create("change", keycloak_spec(keycloak))
    providers.create("remove", keycloak_spec(keycloak))
    for name in ("keep", "change", "remove"):
        providers.wait_ready(name)
    old_hash = providers.configmap("change")["metadata"]["annotations"]["authgate.io/config-hash"]

    op.stop(signal.SIGKILL)  # no graceful shutdown
    providers.create("new", keycloak_spec(keycloak))
    providers.patch("change", {"scopePrefix": "api://changed/"})
    providers.delete("remove")  # blocked by the finalizer until the operator is back
    assert providers.get("remove")["metadata"].get("deletionTimestamp")

    start_operator(namespace)
    providers.wait_ready("new")
    eventually(lambda: providers.configmap("new") is not None, timeout=30)

    def changed() -> bool:
        cm = providers.configmap("change")
        return bool(cm) and cm["metadata"]["annotations"]["authgate.io/config-hash"] != old_hash

    eventually(changed, timeout=60, what="update made while down applied")
    assert providers.wait_ready("change", generation=2)["observedGeneration"] == 2
    eventually(
        lambda: providers.get("remove") is None and providers.configmap("remove") is None,
        timeout=60,
        what="deletion made while down completed",
    )
    assert providers.condition("keep")["status"] == "True"


def test_two_replicas_share_the_work(
    kube: Any, keycloak: Any, namespace: str, start_operator: Any
) -> None:
    first = start_operator(namespace, peering=True)
    second = start_operator(namespace, peering=True, webhook_name=first.webhook_name)
    api = client.CustomObjectsApi(kube.api_client())

    def two_peers() -> bool:
        peering = api.get_namespaced_custom_object(
            "kopf.dev", "v1", namespace, "kopfpeerings", "authgate"
        )
        return len(peering.get("status") or {}) == 2

    eventually(two_peers, timeout=60, what="both replicas in the KopfPeering")

    # kopf starts every peered replica paused and logs when one resumes or pauses again:
    # wait until exactly one replica's latest word is "Resuming".
    def active_by_log(op: Any) -> bool:
        text = op.log_file.read_text()
        return text.rfind("Resuming operations") > text.rfind("Pausing operations")

    eventually(
        lambda: sum(active_by_log(op) for op in (first, second)) == 1,
        timeout=60,
        what="exactly one active replica",
    )
    providers = Providers(kube, namespace)
    providers.create("corp", keycloak_spec(keycloak))
    providers.wait_ready("corp")

    # Both replicas serve discovery for the provider.
    for op in (first, second):
        eventually(
            lambda op=op: op.discovery().json().get("auth_enabled") is True,
            timeout=15,
            what=f"discovery on {op.base_url}",
        )

    # Exactly one replica reconciles.
    def reconcilers() -> list[Any]:
        marker = f"reconciled {namespace}/corp"
        return [op for op in (first, second) if marker in op.log_file.read_text()]

    active = reconcilers()
    assert len(active) == 1, [op.log_file for op in active]
    standby = second if active[0] is first else first

    # The standby serves the webhook too: an AdmissionReview straight to its port.
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "direct",
            "namespace": namespace,
            "annotations": {"authgate.io/inject": "true", "authgate.io/provider": "corp"},
        },
        "spec": {
            "containers": [
                {
                    "name": "app",
                    "image": "app:1",
                    "ports": [{"name": "http", "containerPort": 8000}],
                }
            ]
        },
    }
    review = {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "u-1",
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "operation": "CREATE",
            "namespace": namespace,
            "userInfo": {"username": "test"},
            "object": pod,
        },
    }
    context = ssl.create_default_context(cafile=str(standby.cert_dir / "ca.crt"))
    answer = httpx.post(
        f"https://127.0.0.1:{standby.webhook_port}/inject", json=review, verify=context, timeout=10
    ).json()["response"]
    assert answer["allowed"] is True and answer["patchType"] == "JSONPatch"
    ops = json.loads(base64.b64decode(answer["patch"]))
    assert any(op["path"] == "/spec/initContainers" for op in ops), ops

    # The active one goes away; the standby takes over and reconciles a change.
    active[0].stop()
    providers.patch("corp", {"scopePrefix": "api://takeover/"})
    eventually(
        lambda: standby.discovery().json()["oidc"]["scope_prefix"] == "api://takeover/",
        timeout=90,
        what="standby took over",
    )
    assert providers.wait_ready("corp", generation=2)["observedGeneration"] == 2
    assert f"reconciled {namespace}/corp" in standby.log_file.read_text()

"""Sidecar injection through the real API server calling the operator's webhook."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest
from kubernetes import client

from .operator_helpers import Providers, eventually, keycloak_spec

pytestmark = [pytest.mark.k8s, pytest.mark.keycloak, pytest.mark.integration]


def _pod(name: str, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "annotations": annotations or {}},
        "spec": {
            "containers": [
                {
                    "name": "app",
                    "image": "app:1",
                    "ports": [{"name": "http", "containerPort": 8000}],
                    "readinessProbe": {"httpGet": {"path": "/ready", "port": "http"}},
                }
            ],
        },
    }


def _create(core: client.CoreV1Api, namespace: str, pod: dict[str, Any]) -> dict[str, Any]:
    created = core.create_namespaced_pod(namespace, pod)
    return dict(core.api_client.sanitize_for_serialization(created))


def _webhook_answers(core: client.CoreV1Api, namespace: str) -> bool:
    """The webhook configuration is registered and reachable: a probe pod gets injected."""
    name = f"probe-{uuid.uuid4().hex[:8]}"
    try:
        pod = _create(
            core,
            namespace,
            _pod(name, {"authgate.io/inject": "true", "authgate.io/provider": "corp"}),
        )
    except client.ApiException:
        return False
    core.delete_namespaced_pod(name, namespace, grace_period_seconds=0)
    if pod["spec"].get("initContainers"):
        return True
    eventually(lambda: _gone(core, namespace, name), timeout=10)
    return False


def _gone(core: client.CoreV1Api, namespace: str, name: str) -> bool:
    try:
        core.read_namespaced_pod(name, namespace)
    except client.ApiException as exc:
        return exc.status == 404
    return False


def test_annotated_pod_gets_the_sidecar(
    kube: Any, keycloak: Any, namespace: str, start_operator: Any
) -> None:
    start_operator(namespace)
    providers = Providers(kube, namespace)
    providers.create("corp", keycloak_spec(keycloak))
    providers.wait_ready("corp")
    core = client.CoreV1Api(kube.api_client())
    eventually(
        lambda: _webhook_answers(core, namespace),
        timeout=60,
        what="webhook registered and answering",
    )

    pod = _create(
        core, namespace, _pod("app", {"authgate.io/inject": "true", "authgate.io/provider": "corp"})
    )
    (side,) = pod["spec"]["initContainers"]
    assert side["name"] == "authgate-proxy" and side["restartPolicy"] == "Always"
    assert side["image"] == "authgate:test"
    assert side["ports"][0]["name"] == "http" and side["ports"][0]["containerPort"] == 4180
    assert side["readinessProbe"]["httpGet"]["port"] == "authgate-admin"
    assert side["securityContext"]["readOnlyRootFilesystem"] is True
    assert side["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert {"name": "AUTHGATE__UPSTREAM__URL", "value": "http://127.0.0.1:8000"} in side["env"]
    app = pod["spec"]["containers"][0]
    assert app["ports"][0]["name"] == "authgate-app" and app["ports"][0]["containerPort"] == 8000
    assert app["readinessProbe"]["httpGet"]["port"] == "authgate-app"
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    assert volumes["authgate-config"]["configMap"]["name"] == "authgate-corp"
    assert pod["metadata"]["annotations"]["authgate.io/injected"] == "true"

    # A non-annotated pod is not touched.
    plain = _create(core, namespace, _pod("plain"))
    assert not plain["spec"].get("initContainers")
    assert plain["spec"]["containers"][0]["ports"][0]["name"] == "http"

    # Second pass: submitting the already-injected pod again changes nothing.
    again = copy.deepcopy(pod)
    again["metadata"] = {"name": "again", "annotations": pod["metadata"]["annotations"]}
    again["spec"].pop("nodeName", None)
    second = _create(core, namespace, again)
    assert [c["name"] for c in second["spec"]["initContainers"]] == ["authgate-proxy"]
    assert len(second["spec"]["volumes"]) == len(pod["spec"]["volumes"])

    # An unknown provider is refused with a message that says what to do.
    with pytest.raises(client.ApiException) as info:
        _create(
            core,
            namespace,
            _pod("unknown", {"authgate.io/inject": "true", "authgate.io/provider": "nope"}),
        )
    assert info.value.status == 403
    assert f"OIDCProvider {namespace}/nope" in info.value.body

    # A pod without the port to take over is refused, not left unprotected.
    no_port = _pod("noport", {"authgate.io/inject": "true", "authgate.io/provider": "corp"})
    no_port["spec"]["containers"][0]["ports"][0]["name"] = "web"
    with pytest.raises(client.ApiException) as info:
        _create(core, namespace, no_port)
    assert "no container port named 'http'" in info.value.body

    # A provider whose IdP is down: the pod is admitted with the sidecar (which fails
    # closed) and says why in an annotation; refusing would turn an IdP blip into an outage.
    providers.create("down", {"issuer": "https://127.0.0.1:1/realms/none", "clientId": "cli"})
    providers.wait_ready("down", "False", "IssuerUnreachable")
    warned = _create(
        core,
        namespace,
        _pod("warned", {"authgate.io/inject": "true", "authgate.io/provider": "down"}),
    )
    assert [c["name"] for c in warned["spec"]["initContainers"]] == ["authgate-proxy"]
    warning = warned["metadata"]["annotations"]["authgate.io/injection-warning"]
    assert f"OIDCProvider {namespace}/down is not Ready (IssuerUnreachable)" in warning

    # kube-system is never touched, whatever the annotations say.
    system = _create(
        core,
        "kube-system",
        _pod(f"sys-{namespace}", {"authgate.io/inject": "true", "authgate.io/provider": "corp"}),
    )
    assert not system["spec"].get("initContainers")
    core.delete_namespaced_pod(f"sys-{namespace}", "kube-system", grace_period_seconds=0)


def test_namespace_label_opts_every_pod_in(
    kube: Any, keycloak: Any, namespace: str, start_operator: Any
) -> None:
    start_operator(namespace)
    core = client.CoreV1Api(kube.api_client())
    core.patch_namespace(namespace, {"metadata": {"labels": {"authgate.io/injection": "enabled"}}})
    providers = Providers(kube, namespace)
    providers.create("only", keycloak_spec(keycloak))  # the lone provider is the default
    providers.wait_ready("only")

    def injected() -> dict[str, Any] | None:
        name = f"labelled-{uuid.uuid4().hex[:6]}"
        try:
            pod = _create(core, namespace, _pod(name))
        except client.ApiException:
            return None
        return pod if pod["spec"].get("initContainers") else None

    pod = eventually(injected, timeout=60, what="pod in labelled namespace injected")
    assert pod["spec"]["volumes"][0]["configMap"]["name"] == "authgate-only"
    opted_out = _create(core, namespace, _pod("optout", {"authgate.io/inject": "false"}))
    assert not opted_out["spec"].get("initContainers")

"""The sidecar patch, on plain pod dictionaries."""

from __future__ import annotations

import copy

import jsonpatch
import pytest

from authgate.operator.injection import (
    InjectionRefused,
    ProviderRef,
    inject,
    opted_in,
    provider_reference,
)
from authgate.operator.settings import SidecarSettings

S = SidecarSettings(image="authgate:test")
REF = ProviderRef(namespace="team", name="corp", config_map="authgate-corp")


def _pod(annotations: dict[str, str] | None = None, port_name: str = "http") -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "app", "namespace": "team", "annotations": dict(annotations or {})},
        "spec": {
            "containers": [
                {
                    "name": "app",
                    "image": "app:1",
                    "ports": [
                        {"name": port_name, "containerPort": 8000},
                        {"name": "metrics", "containerPort": 9100},
                    ],
                    "readinessProbe": {"httpGet": {"path": "/ready", "port": port_name}},
                }
            ],
        },
    }


def test_opt_in_rules() -> None:
    assert opted_in(_pod({"authgate.io/inject": "true"}), {})
    assert not opted_in(_pod(), {})
    assert opted_in(_pod(), {"authgate.io/injection": "enabled"})
    assert not opted_in(_pod({"authgate.io/inject": "false"}), {"authgate.io/injection": "enabled"})


def test_sidecar_takes_over_the_port_name() -> None:
    pod = _pod({"authgate.io/inject": "true"})
    before = copy.deepcopy(pod)
    out = inject(pod, REF, S)
    assert pod == before, "input must not be modified"
    app = out["spec"]["containers"][0]
    assert app["ports"][0] == {"name": "authgate-app", "containerPort": 8000}
    assert app["readinessProbe"]["httpGet"]["port"] == "authgate-app"
    (side,) = out["spec"]["initContainers"]
    assert side["restartPolicy"] == "Always" and side["image"] == "authgate:test"
    assert side["ports"][0] == {"name": "http", "containerPort": S.listen_port, "protocol": "TCP"}
    env = {e["name"]: e["value"] for e in side["env"]}
    assert env["AUTHGATE__UPSTREAM__URL"] == "http://127.0.0.1:8000"
    assert side["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "authgate-admin"}
    assert side["livenessProbe"]["httpGet"]["path"] == "/healthz"
    sc = side["securityContext"]
    assert sc["runAsNonRoot"] and sc["readOnlyRootFilesystem"]
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert side["resources"]["requests"] == {"cpu": "50m", "memory": "64Mi"}
    vols = {v["name"]: v for v in out["spec"]["volumes"]}
    assert vols["authgate-config"]["configMap"]["name"] == "authgate-corp"
    assert out["metadata"]["annotations"]["authgate.io/injected"] == "true"


def test_injection_is_idempotent() -> None:
    once = inject(_pod({"authgate.io/inject": "true"}), REF, S)
    twice = inject(once, REF, S)
    assert twice == once
    assert jsonpatch.make_patch(once, twice).patch == []


def test_port_annotation_by_name_and_number() -> None:
    out = inject(_pod({"authgate.io/port": "web"}, port_name="web"), REF, S)
    assert out["spec"]["initContainers"][0]["ports"][0]["name"] == "web"
    out = inject(_pod({"authgate.io/port": "9100"}), REF, S)
    assert out["spec"]["containers"][0]["ports"][1]["name"] == "authgate-app"
    env = {e["name"]: e["value"] for e in out["spec"]["initContainers"][0]["env"]}
    assert env["AUTHGATE__UPSTREAM__URL"] == "http://127.0.0.1:9100"


def test_refusals_explain_themselves() -> None:
    with pytest.raises(InjectionRefused, match="no container port named 'http'"):
        inject(_pod(port_name="web"), REF, S)
    pod = _pod()
    pod["spec"]["containers"][0]["ports"].append({"containerPort": S.listen_port})
    with pytest.raises(InjectionRefused, match=f"port {S.listen_port}"):
        inject(pod, REF, S)
    with pytest.raises(InjectionRefused, match="own namespace"):
        provider_reference(_pod({"authgate.io/provider": "other/corp"}), "team")


def test_provider_reference() -> None:
    assert provider_reference(_pod(), "team") is None
    assert provider_reference(_pod({"authgate.io/provider": "corp"}), "team") == "corp"
    assert provider_reference(_pod({"authgate.io/provider": "team/corp"}), "team") == "corp"


def _sa_mount(name: str = "kube-api-access-x1y2z") -> dict:
    return {
        "name": name,
        "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
        "readOnly": True,
    }


def test_service_account_mount_only_for_a_kubernetes_issuer() -> None:
    """A provider accepting service-account tokens: the sidecar fetches the cluster's keys
    with the pod's own token and CA, so it gets the pod's (admission-added) mount."""
    pod = _pod({"authgate.io/inject": "true"})
    pod["spec"]["containers"][0]["volumeMounts"] = [_sa_mount()]
    plain = inject(pod, REF, S)["spec"]["initContainers"][-1]
    assert _sa_mount() not in plain["volumeMounts"]
    ref = ProviderRef(
        namespace="team", name="corp", config_map="authgate-corp", service_account=True
    )
    sidecar = inject(pod, ref, S)["spec"]["initContainers"][-1]
    assert _sa_mount() in sidecar["volumeMounts"]
    # automountServiceAccountToken: false -> the sidecar could never load the keys: refused
    del pod["spec"]["containers"][0]["volumeMounts"]
    with pytest.raises(InjectionRefused, match="automountServiceAccountToken"):
        inject(pod, ref, S)

"""Points 1-3 of the cluster issue: the chart installs and runs, its webhook is called
through its Service with its own certificate, an annotated Deployment rolls out with
the native sidecar, and nothing else is touched."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

import pytest

from .workloads import (
    APP_NAMESPACE,
    PROVIDER,
    RELEASE,
    SYSTEM_NAMESPACE,
    Cluster,
    bare_pod,
    wait_for,
)

pytestmark = [pytest.mark.cluster, pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(1800)]

OPERATOR_SELECTOR = "app.kubernetes.io/component=operator"


def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_crds_established_and_operator_ready_through_its_probes(installed: Cluster) -> None:
    for crd in ("oidcproviders.authgate.io", "kopfpeerings.kopf.dev"):
        conditions = installed.json(f"crd/{crd}")["status"]["conditions"]
        assert any(c["type"] == "Established" and c["status"] == "True" for c in conditions), crd
    deployment = installed.json("-n", SYSTEM_NAMESPACE, f"deployment/{RELEASE}")
    assert deployment["status"]["readyReplicas"] == 2
    pods = installed.pods(SYSTEM_NAMESPACE, OPERATOR_SELECTOR)
    assert len(pods) == 2
    for pod in pods:
        container = pod["spec"]["containers"][0]
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        status = pod["status"]["containerStatuses"][0]
        assert status["ready"] is True and status["restartCount"] == 0, status
        assert pod["spec"]["nodeName"] == installed.cluster.node_name


def test_peering_elects_one_active_replica(installed: Cluster) -> None:
    # The chart watches all namespaces by default, so kopf peers cluster-wide.
    peering = installed.json(f"clusterkopfpeering/{RELEASE}")
    assert len(peering.get("status") or {}) == 2, peering.get("status")

    def active() -> list[str]:
        names = []
        for pod in installed.pods(SYSTEM_NAMESPACE, OPERATOR_SELECTOR):
            name = pod["metadata"]["name"]
            text = installed.cluster.kubectl("logs", "-n", SYSTEM_NAMESPACE, name).stdout
            if text.rfind("Resuming operations") > text.rfind("Pausing operations"):
                names.append(name)
        return names

    wait_for("exactly one active replica", lambda: len(active()) == 1, timeout=60)
    marker = f"reconciled {APP_NAMESPACE}/{PROVIDER}"
    reconciling = [
        p["metadata"]["name"]
        for p in installed.pods(SYSTEM_NAMESPACE, OPERATOR_SELECTOR)
        if marker
        in installed.cluster.kubectl("logs", "-n", SYSTEM_NAMESPACE, p["metadata"]["name"]).stdout
    ]
    assert reconciling == active()


def test_helm_test_passes(installed: Cluster) -> None:
    """The chart's own test pod fetches discovery through the Service (CoreDNS + kube-proxy)
    and exits non-zero unless the document has ``auth_enabled``. No ``--logs``: the hook's
    ``hook-succeeded`` delete policy removes the pod first, and helm then fails to read them."""
    out = installed.helm.run(
        "test", RELEASE, "-n", SYSTEM_NAMESPACE, "--timeout", "180s", timeout=240, check=False
    )
    if out.returncode != 0:  # a failed hook pod stays: say why it failed
        pod = f"pod/{RELEASE}-test-discovery"
        logs = installed.cluster.kubectl("logs", "-n", SYSTEM_NAMESPACE, pod, check=False)
        status = installed.cluster.kubectl(
            "get", "-n", SYSTEM_NAMESPACE, pod, "-o", "jsonpath={.status}", check=False
        )
        pytest.fail(
            f"helm test failed: {out.stdout}{out.stderr}\nlogs: {logs.stdout}"
            f"{logs.stderr}\nstatus: {status.stdout}",
            pytrace=False,
        )
    assert "Phase:          Succeeded" in out.stdout, out.stdout


def test_webhook_called_through_its_service_with_the_chart_certificate(
    installed: Cluster,
) -> None:
    webhook = installed.json(f"mutatingwebhookconfiguration/{RELEASE}-sidecar-injector")
    secret = installed.json("-n", SYSTEM_NAMESPACE, f"secret/{RELEASE}-webhook-tls")
    for hook in webhook["webhooks"]:
        config = hook["clientConfig"]
        assert "url" not in config
        assert config["service"] == {
            "name": RELEASE,
            "namespace": SYSTEM_NAMESPACE,
            "path": "/inject",
            "port": 443,
        }
        assert config["caBundle"] == secret["data"]["ca.crt"]
    assert base64.b64decode(secret["data"]["tls.crt"]).startswith(b"-----BEGIN CERTIFICATE")
    # Injected pods are the proof the API server reached it (test_deployment_...); the
    # operator's admission metrics say both replicas may serve it.
    pods = installed.pods(APP_NAMESPACE, "app=echo")
    assert pods and all(
        p["metadata"]["annotations"].get("authgate.io/injected") == "true" for p in pods
    )


def test_deployment_runs_the_native_sidecar_first(installed: Cluster) -> None:
    pods = installed.pods(APP_NAMESPACE, "app=echo")
    assert len(pods) == 2
    for pod in pods:
        sidecar = pod["spec"]["initContainers"][0]
        assert sidecar["name"] == "authgate-proxy" and sidecar["restartPolicy"] == "Always"
        assert sidecar["image"].endswith(installed.authgate.tag)
        statuses = {
            s["name"]: s
            for s in pod["status"]["initContainerStatuses"] + pod["status"]["containerStatuses"]
        }
        proxy, app = statuses["authgate-proxy"], statuses["app"]
        assert proxy["ready"] and proxy["started"] and app["ready"], statuses
        # The kubelet started the app only after the sidecar's startup probe passed.
        assert _ts(proxy["state"]["running"]["startedAt"]) <= _ts(
            app["state"]["running"]["startedAt"]
        )
        conditions = {c["type"]: c for c in pod["status"]["conditions"]}
        assert conditions["Ready"]["status"] == "True"
        # uid 65532 and a read-only root: the pod runs as the chart/webhook says.
        assert sidecar["securityContext"]["runAsUser"] == 65532
        assert sidecar["securityContext"]["readOnlyRootFilesystem"] is True


def test_pod_not_ready_until_the_sidecar_has_keys(installed: Cluster) -> None:
    """A provider whose IdP does not answer: the pod starts, its sidecar never gets keys,
    the pod never becomes Ready (and never serves)."""
    cluster = installed.cluster
    cluster.kubectl(
        "apply",
        "-f",
        "-",
        input=f"""
apiVersion: authgate.io/v1alpha1
kind: OIDCProvider
metadata: {{name: nowhere, namespace: {APP_NAMESPACE}}}
spec: {{issuer: "https://{cluster.gateway}:9/realms/none", clientId: cli}}
""",
    )
    wait_for(
        "the unverified ConfigMap",
        lambda: (
            cluster.kubectl(
                "get", "-n", APP_NAMESPACE, "configmap/authgate-nowhere", check=False
            ).returncode
            == 0
        ),
        timeout=60,
    )
    pod = bare_pod("keyless", APP_NAMESPACE, installed.demo.tag, annotated=True)
    pod["metadata"]["annotations"]["authgate.io/provider"] = "nowhere"
    pod["spec"]["containers"][0]["args"] = ["--port", "8000"]
    import yaml

    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump(pod))
    try:

        def sidecar_running() -> Any:
            status = installed.json("-n", APP_NAMESPACE, "pod/keyless")["status"]
            for s in status.get("initContainerStatuses") or []:
                if s["name"] == "authgate-proxy" and "running" in (s.get("state") or {}):
                    return status
            return None

        status = wait_for("the keyless sidecar to run", sidecar_running, timeout=120)
        import time

        time.sleep(8)  # several readiness periods
        status = installed.json("-n", APP_NAMESPACE, "pod/keyless")["status"]
        ready = {c["type"]: c["status"] for c in status["conditions"]}
        assert ready["Ready"] == "False", status
        proxy = next(s for s in status["initContainerStatuses"] if s["name"] == "authgate-proxy")
        assert proxy["ready"] is False
    finally:
        cluster.kubectl(
            "delete",
            "-n",
            APP_NAMESPACE,
            "pod/keyless",
            "oidcprovider/nowhere",
            "--wait=false",
            check=False,
        )


def test_unannotated_and_kube_system_pods_are_untouched(installed: Cluster) -> None:
    cluster = installed.cluster
    for namespace, annotated in ((APP_NAMESPACE, False), ("kube-system", True)):
        pod = bare_pod(f"plain-{namespace}", namespace, installed.demo.tag, annotated=annotated)
        import yaml

        created = cluster.kubectl(
            "create", "--dry-run=server", "-o", "json", "-f", "-", input=yaml.safe_dump(pod)
        )
        import json

        stored = json.loads(created.stdout)
        assert "initContainers" not in stored["spec"], (namespace, stored["spec"])
        assert "authgate.io/injected" not in (stored["metadata"].get("annotations") or {})

"""Point 7: the operator is down (scaled to 0). Injection is security-critical, so an
annotated pod must not start without its sidecar: the API server refuses it
(``failurePolicy: Fail`` on the webhooks, which match only opted-in pods). And our
outage blocks nothing else: un-annotated pods and ``kube-system`` are admitted
(their requests never reach the webhook: matchConditions and namespaceSelector)."""

from __future__ import annotations

import json

import pytest
import yaml

from .workloads import APP_NAMESPACE, RELEASE, SYSTEM_NAMESPACE, Cluster, bare_pod, wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(900)]


def _create(installed: Cluster, pod: dict[str, object]) -> tuple[int, str]:
    out = installed.cluster.kubectl(
        "create", "-o", "json", "-f", "-", check=False, input=yaml.safe_dump(pod)
    )
    return out.returncode, out.stdout + out.stderr


def test_operator_down_refuses_annotated_pods_and_admits_everything_else(
    installed: Cluster,
) -> None:
    cluster = installed.cluster
    webhooks = installed.json(f"mutatingwebhookconfiguration/{RELEASE}-sidecar-injector")
    assert {h["failurePolicy"] for h in webhooks["webhooks"]} == {"Fail"}
    cluster.kubectl("label", "--overwrite", "namespace/default", "authgate.io/injection=enabled")
    cluster.kubectl("scale", "-n", SYSTEM_NAMESPACE, f"deployment/{RELEASE}", "--replicas=0")
    try:
        wait_for(
            "the operator pods to be gone",
            lambda: not installed.pods(SYSTEM_NAMESPACE, "app.kubernetes.io/component=operator"),
            timeout=120,
        )
        wait_for(
            "no webhook endpoint",
            lambda: (
                not (installed.json("-n", SYSTEM_NAMESPACE, f"endpoints/{RELEASE}").get("subsets"))
            ),
            timeout=60,
        )

        # Refused: opted in by annotation, and by the namespace label.
        image = installed.demo.tag
        code, text = _create(installed, bare_pod("down-annotated", APP_NAMESPACE, image, True))
        assert code != 0 and "annotated.inject.authgate.io" in text, text
        code, text = _create(installed, bare_pod("down-labelled-ns", "default", image, False))
        assert code != 0 and "namespace.inject.authgate.io" in text, text

        # Admitted, and uninjected: not opted in, opted out, kube-system.
        opted_out = bare_pod("down-opted-out", "default", image, False)
        opted_out["metadata"]["annotations"] = {"authgate.io/inject": "false"}  # type: ignore[index]
        for pod in (
            bare_pod("down-plain", APP_NAMESPACE, image, False),
            opted_out,
            bare_pod("down-system", "kube-system", image, True),
        ):
            code, text = _create(installed, pod)
            assert code == 0, text
            assert "initContainers" not in json.loads(text)["spec"]
        wait_for(
            "the un-annotated pod to run",
            lambda: (
                installed.json("-n", APP_NAMESPACE, "pod/down-plain")["status"].get("phase")
                == "Running"
            ),
            timeout=120,
        )
    finally:
        cluster.kubectl("scale", "-n", SYSTEM_NAMESPACE, f"deployment/{RELEASE}", "--replicas=2")
        cluster.kubectl("label", "namespace/default", "authgate.io/injection-", check=False)
        cluster.kubectl(
            "delete", "pod", "-n", APP_NAMESPACE, "down-plain", "--wait=false", check=False
        )
        cluster.kubectl(
            "delete", "pod", "-n", "default", "down-opted-out", "--wait=false", check=False
        )
        cluster.kubectl(
            "delete", "pod", "-n", "kube-system", "down-system", "--wait=false", check=False
        )
    installed.rollout(SYSTEM_NAMESPACE, f"deployment/{RELEASE}", timeout=300)
    # Back up: an annotated pod is admitted again, with its sidecar.
    wait_for("injection to work again", lambda: _dry_run_injected(installed), timeout=60)


def _dry_run_injected(installed: Cluster) -> bool:
    pod = bare_pod("up-dry", APP_NAMESPACE, installed.demo.tag, True)
    out = installed.cluster.kubectl(
        "create",
        "--dry-run=server",
        "-o",
        "json",
        "-f",
        "-",
        input=yaml.safe_dump(pod),
        check=False,
    )
    return out.returncode == 0 and "initContainers" in json.loads(out.stdout)["spec"]

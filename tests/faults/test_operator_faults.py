"""Operator faults against the real API server, Keycloak and operator process.

* **Killed mid-reconcile.** Six providers are created and the operator is
  SIGKILLed while it reconciles them; six more are created while it is down;
  a new operator converges all twelve (``Ready=True``, a ConfigMap with the
  right issuer).
* **API server restart.** The kube-apiserver is restarted under a running
  operator; its watches recover: a provider created afterwards is reconciled
  without restarting the operator.
* **Issuer changed to garbage.** A Ready provider's issuer is patched to an
  unreachable URL: ``Ready=False`` with a precise reason, and the ConfigMap —
  what the pods mount — keeps the last good config.

Uses the operator suite's helpers (``tests/operator/operator_helpers.py``).
"""

from __future__ import annotations

import signal
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.operator.operator_helpers import (
    OperatorFleet,
    OperatorProcess,
    Providers,
    eventually,
    keycloak_spec,
)

pytestmark = [
    pytest.mark.k8s,
    pytest.mark.keycloak,
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.timeout(600),
]


@pytest.fixture
def op_namespace(kube: Any) -> str:
    from kubernetes import client

    from authgate.operator.crd import CRD_NAME, peering_crd_manifests

    crd_file = Path(__file__).resolve().parents[2] / "operator" / "crd.yaml"
    kube.kubectl("apply", "-f", str(crd_file))
    kube.kubectl(
        "apply", "-f", "-", input="---\n".join(yaml.safe_dump(d) for d in peering_crd_manifests())
    )
    kube.kubectl("wait", "--for=condition=Established", f"crd/{CRD_NAME}", "--timeout=60s")
    name = f"faults-{uuid.uuid4().hex[:8]}"
    client.CoreV1Api(kube.api_client()).create_namespace({"metadata": {"name": name}})  # type: ignore[arg-type]
    return name


@pytest.fixture
def operators(
    kube: Any, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Callable[[str], OperatorProcess]]:
    fleet = OperatorFleet(kube, tmp_path, request, log_chars=3000, register_webhook=False)
    yield fleet
    fleet.stop()


def _issuer_in_configmap(providers: Providers, name: str) -> str | None:
    cm = providers.configmap(name)
    if cm is None:
        return None
    return str(yaml.safe_load(cm["data"]["config.yaml"])["oidc"]["issuer"])


def test_operator_killed_mid_reconcile_converges(
    kube: Any, keycloak: Any, op_namespace: str, operators: Callable[[str], OperatorProcess]
) -> None:
    providers = Providers(kube, op_namespace)
    op = operators(op_namespace)
    names = [f"p{i}" for i in range(12)]
    for name in names[:6]:
        providers.create(name, keycloak_spec(keycloak))
    # SIGKILL while the operator works through the first six; the other six
    # arrive while no operator runs
    op.stop(sig=signal.SIGKILL)
    done_before = sum(1 for n in names if (providers.condition(n) or {}).get("status") == "True")
    for name in names[6:]:
        providers.create(name, keycloak_spec(keycloak))

    t0 = time.monotonic()
    operators(op_namespace)
    for name in names:
        providers.wait_ready(name, "True", timeout=120)
    took = time.monotonic() - t0
    issuers = {n: _issuer_in_configmap(providers, n) for n in names}
    print(
        f"operator SIGKILLed with {done_before}/{len(names)} providers Ready; "
        f"restarted operator converged all {len(names)} in {took:.1f}s"
    )
    assert all(v == keycloak.issuer for v in issuers.values()), issuers


def test_api_server_restart_watches_recover(
    kube: Any, keycloak: Any, op_namespace: str, operators: Callable[[str], OperatorProcess]
) -> None:
    providers = Providers(kube, op_namespace)
    op = operators(op_namespace)
    providers.create("before", keycloak_spec(keycloak))
    providers.wait_ready("before", "True", timeout=120)

    t0 = time.monotonic()
    kube.apiserver.stop()
    time.sleep(2)
    kube.apiserver.start()
    kube.apiserver_wait_ready()
    restarted = time.monotonic() - t0

    # fresh clients: the old connection pool points at the dead server
    providers = Providers(kube, op_namespace)
    eventually(lambda: providers.get("before") is not None, timeout=60, what="API back")
    t1 = time.monotonic()
    providers.create("after", keycloak_spec(keycloak))
    providers.wait_ready("after", "True", timeout=180)
    took = time.monotonic() - t1
    print(
        f"kube-apiserver down/up in {restarted:.1f}s; a provider created afterwards was "
        f"reconciled by the same operator in {took:.1f}s"
    )
    assert _issuer_in_configmap(providers, "after") == keycloak.issuer
    assert op.alive(), "the operator died with the API server"


def test_issuer_changed_to_garbage_keeps_last_good_config(
    kube: Any, keycloak: Any, op_namespace: str, operators: Callable[[str], OperatorProcess]
) -> None:
    providers = Providers(kube, op_namespace)
    operators(op_namespace)
    providers.create("corp", keycloak_spec(keycloak))
    providers.wait_ready("corp", "True", timeout=120)
    good = providers.configmap("corp")
    assert good is not None

    garbage = "https://127.0.0.1:1/realms/garbage"
    providers.patch("corp", {"issuer": garbage})
    down = providers.wait_ready("corp", "False", timeout=120)
    time.sleep(4)  # a couple of recheck intervals: nothing may overwrite the ConfigMap
    after = providers.configmap("corp")
    print(
        f"issuer → {garbage}: Ready=False reason={down['reason']} message={down['message']!r}; "
        f"ConfigMap issuer still {_issuer_in_configmap(providers, 'corp')}"
    )
    assert after is not None
    assert after["data"] == good["data"], "the ConfigMap lost the last good config"
    assert _issuer_in_configmap(providers, "corp") == keycloak.issuer
    assert down["reason"] != "Ready"

"""Point 6: rolling updates under a bounded load loop fail no request: the app's
template changes, and ``helm upgrade`` moves the operator to a new image tag."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx
import pytest

from .workloads import APP_NAMESPACE, RELEASE, SYSTEM_NAMESPACE, Cluster, wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(1200)]

RATE = 20  # requests per second, at most: bounded, the machine is shared


@dataclass
class LoadLoop:
    """One thread, a new connection per request (each is balanced by kube-proxy anew)."""

    url: str
    token: str
    sent: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def _run(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        limits = httpx.Limits(max_keepalive_connections=0)
        with httpx.Client(timeout=10, limits=limits) as client:
            while not self._stop.is_set():
                started = time.monotonic()
                self.sent += 1
                try:
                    status = client.get(self.url, headers=headers).status_code
                    if status != 200:
                        self.failures[f"HTTP {status}"] += 1
                except httpx.HTTPError as exc:
                    self.failures[type(exc).__name__] += 1
                self._stop.wait(max(0.0, 1 / RATE - (time.monotonic() - started)))

    def __enter__(self) -> LoadLoop:
        self._thread = threading.Thread(target=self._run, name="cluster-load", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join(timeout=30)


def _pod_names(installed: Cluster) -> set[str]:
    return {p["metadata"]["name"] for p in installed.pods(APP_NAMESPACE, "app=echo")}


def test_app_rolling_update_fails_no_request(installed: Cluster) -> None:
    before = _pod_names(installed)
    with LoadLoop(f"{installed.service_url}/api/orders", installed.token()) as load:
        time.sleep(2)
        installed.cluster.kubectl(
            "set", "env", "-n", APP_NAMESPACE, "deployment/echo", "REVISION=2"
        )
        installed.rollout(APP_NAMESPACE, "deployment/echo", timeout=300)
        wait_for(
            "the old pods to be gone", lambda: not (_pod_names(installed) & before), timeout=120
        )
        time.sleep(2)
    print(
        f"\n[cluster] app rolling update: {load.sent} requests sent, "
        f"{sum(load.failures.values())} failed {dict(load.failures)}"
    )
    assert load.sent > 50
    assert not load.failures, dict(load.failures)


def test_helm_upgrade_to_a_new_operator_tag_leaves_app_traffic_alone(installed: Cluster) -> None:
    cluster = installed.cluster
    repository, tag = installed.authgate.tag.rsplit(":", 1)
    new_tag = f"{tag}-upgrade"
    source = f"docker.io/library/{installed.authgate.tag}"
    if not cluster.has_image(f"{repository}:{new_tag}"):
        cluster.ctr("images", "tag", source, f"docker.io/library/{repository}:{new_tag}")
    app_pods = _pod_names(installed)
    with LoadLoop(f"{installed.service_url}/api/orders", installed.token()) as load:
        time.sleep(2)
        installed.helm.run(
            "upgrade",
            RELEASE,
            str(_chart()),
            "-n",
            SYSTEM_NAMESPACE,
            "--reuse-values",
            "--set",
            f"image.tag={new_tag}",
            timeout=300,
        )
        installed.rollout(SYSTEM_NAMESPACE, f"deployment/{RELEASE}", timeout=300)
        time.sleep(2)
    print(
        f"\n[cluster] helm upgrade of the operator: {load.sent} app requests sent, "
        f"{sum(load.failures.values())} failed {dict(load.failures)}"
    )
    assert not load.failures, dict(load.failures)
    assert _pod_names(installed) == app_pods  # the app was not restarted
    # `rollout status` returns once the new pods are available; old ones may still terminate.
    wait_for(
        "only the new operator pods",
        lambda: (
            {
                p["spec"]["containers"][0]["image"]
                for p in installed.pods(SYSTEM_NAMESPACE, "app.kubernetes.io/component=operator")
            }
            == {f"{repository}:{new_tag}"}
        ),
        timeout=120,
    )


def _chart() -> object:
    from tests.e2e.charts import CHART

    return CHART

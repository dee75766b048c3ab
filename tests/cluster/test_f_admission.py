"""Figure: webhook admission latency for a burst of 50 pod creations.

Server-side dry-run creations (``dryRun=All``): the API server runs the whole
admission chain, including the call to our webhook through its Service, but
stores nothing, so the figure is admission without 50 pods to start on a
2-core node. Ten at a time; the same burst without the annotation (the
webhook is not called) is the baseline."""

from __future__ import annotations

import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from kubernetes import client

from .workloads import APP_NAMESPACE, Cluster, bare_pod

pytestmark = [pytest.mark.cluster, pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(600)]

BURST = 50


def _burst(api: Any, image: str, annotated: bool) -> list[float]:
    def one(i: int) -> float:
        body = bare_pod(f"burst-{i}", APP_NAMESPACE, image, annotated)
        started = time.perf_counter()
        created = api.create_namespaced_pod(APP_NAMESPACE, body, dry_run="All")
        took = time.perf_counter() - started
        injected = any(c.name == "authgate-proxy" for c in created.spec.init_containers or [])
        assert injected == annotated
        return took

    with ThreadPoolExecutor(max_workers=10) as pool:
        return list(pool.map(one, range(BURST)))


def _p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def test_admission_latency_of_a_burst(installed: Cluster) -> None:
    api = client.CoreV1Api(installed.cluster.kube.api_client())
    _burst(api, installed.demo.tag, True)  # warm the connections
    webhook = _burst(api, installed.demo.tag, True)
    baseline = _burst(api, installed.demo.tag, False)
    print(
        f"\n[cluster] admission of {BURST} pod creations (10 concurrent, dry-run): "
        f"injected p50 {_p(webhook, 50) * 1000:.0f} ms p99 {_p(webhook, 99) * 1000:.0f} ms; "
        f"not annotated p50 {_p(baseline, 50) * 1000:.0f} ms "
        f"p99 {_p(baseline, 99) * 1000:.0f} ms"
    )
    assert len(webhook) == BURST

"""Point 5: a changed provider reaches every running sidecar through the kubelet's
ConfigMap volume update, with no restart; the time it takes is printed."""

from __future__ import annotations

import time

import pytest

from .workloads import APP_NAMESPACE, PROVIDER, Cluster, apply, provider_manifest, wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(900)]


def _sidecar_urls(installed: Cluster) -> dict[str, str]:
    urls = {}
    for pod in installed.pods(APP_NAMESPACE, "app=echo"):
        sidecar = pod["spec"]["initContainers"][0]
        port = next(p["containerPort"] for p in sidecar["ports"] if p["name"] == "http")
        urls[pod["metadata"]["name"]] = f"http://{pod['status']['podIP']}:{port}"
    return urls


def _sidecar_identity(installed: Cluster) -> dict[str, tuple[str, int]]:
    found = {}
    for pod in installed.pods(APP_NAMESPACE, "app=echo"):
        status = next(
            s for s in pod["status"]["initContainerStatuses"] if s["name"] == "authgate-proxy"
        )
        found[pod["metadata"]["name"]] = (status["containerID"], status["restartCount"])
    return found


def _propagate(
    installed: Cluster, read_scopes: list[str], read_only: str, expect: int
) -> dict[str, float]:
    """Apply the provider with ``read_scopes``; seconds until each sidecar answers
    ``expect`` to a GET with the ``read_only`` token."""
    urls = _sidecar_urls(installed)
    applied = time.monotonic()
    apply(installed.cluster, provider_manifest(installed.keycloak, read_scopes))
    seconds: dict[str, float] = {}
    deadline = applied + 150
    while len(seconds) < len(urls) and time.monotonic() < deadline:
        for name, url in urls.items():
            if (
                name not in seconds
                and installed.get("/api/orders", read_only, base=url).status_code == expect
            ):
                seconds[name] = time.monotonic() - applied
        time.sleep(0.2)
    assert len(seconds) == len(urls), f"not applied everywhere within 150 s: {seconds}"
    return seconds


def test_provider_change_reaches_every_sidecar_without_restart(installed: Cluster) -> None:
    read_only = installed.token("alice", scope="openid platform:read")
    writer = installed.token("alice", scope="openid platform:write")
    assert installed.get("/api/orders", read_only).status_code == 200
    before = _sidecar_identity(installed)
    generation = installed.json("-n", APP_NAMESPACE, f"oidcprovider/{PROVIDER}")["metadata"][
        "generation"
    ]

    tightened = _propagate(installed, ["platform:write"], read_only, expect=403)
    assert installed.get("/api/orders", writer).status_code == 200
    wait_for(
        "the provider Ready at the new generation",
        lambda: (
            installed.json("-n", APP_NAMESPACE, f"oidcprovider/{PROVIDER}")["status"].get(
                "observedGeneration"
            )
            == generation + 1
        ),
        timeout=60,
    )
    restored = _propagate(installed, ["platform:read"], read_only, expect=200)

    assert _sidecar_identity(installed) == before  # same containers, no restart
    worst = max([*tightened.values(), *restored.values()])
    print(
        f"\n[cluster] ConfigMap change -> applied in every sidecar: "
        f"{max(tightened.values()):.1f}s and {max(restored.values()):.1f}s (worst of "
        f"{len(tightened)} sidecars; kubelet syncFrequency "
        f"{installed.cluster.sync_seconds}s)"
    )
    assert worst < 150

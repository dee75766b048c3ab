"""Point 8: workload identity on a real node. A pod's projected service-account token
(audience-bound, 10 minutes) is rotated by the kubelet while the pod calls another
pod's sidecar with it through the SDK (``AUTHGATE_TOKEN_FILE``): every request
after the first succeeds, with tokens of both generations, and the caller is
mapped to its service account and pod. The server's sidecar fetched the
cluster's keys with its own (injected) service-account mount.

The caller was started by the ``installed`` fixture (:mod:`.identity`), so the
kubelet's rotation (about 8 minutes in) overlaps the earlier modules."""

from __future__ import annotations

import pytest

from .identity import (
    CALLER_ACCOUNT,
    CALLER_NAMESPACE,
    CALLER_POD,
    SERVER_NAMESPACE,
    TOKEN_SECONDS,
    caller_summary,
)
from .workloads import Cluster, wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(1200)]


def test_server_sidecar_has_the_pod_service_account_mount(installed: Cluster) -> None:
    pods = installed.pods(SERVER_NAMESPACE, "app=orders")
    assert len(pods) == 1
    sidecar = next(c for c in pods[0]["spec"]["initContainers"] if c["name"] == "authgate-proxy")
    mounts = {m["mountPath"]: m for m in sidecar["volumeMounts"]}
    account = mounts["/var/run/secrets/kubernetes.io/serviceaccount"]
    assert account["readOnly"] is True and account["name"].startswith("kube-api-access-")
    # (The API server re-runs its ServiceAccount admission plugin after a webhook changed the
    # pod, so it may mount the token on every injected sidecar too; the webhook does not
    # rely on that.)


def test_pod_calls_a_pod_across_a_kubelet_token_rotation(installed: Cluster) -> None:
    summary = wait_for(
        "the caller pod to finish",
        lambda: caller_summary(installed),
        timeout=TOKEN_SECONDS + 420,
        interval=5,
    )
    print(
        f"\n[cluster] pod-to-pod with a kubelet-rotated token: {summary['sent']} requests, "
        f"{summary['failed']} failed, token generations at "
        f"{[t['at'] for t in summary['tokens']]} s"
    )
    assert summary["first_ok_after"] is not None, summary
    assert summary["failed"] == 0, summary["errors"]
    tokens = summary["tokens"]
    assert len(tokens) >= 2, f"the kubelet did not rotate the token: {summary}"
    assert tokens[1]["iat"] > tokens[0]["iat"] and tokens[1]["exp"] > tokens[0]["exp"]
    assert tokens[0]["exp"] - tokens[0]["iat"] == TOKEN_SECONDS
    assert summary["sent"] > 40
    assert summary["source"] == "AUTHGATE_TOKEN_FILE"
    identity = summary["identity"]
    assert identity["x-nmp-principal-id"] == f"service:{CALLER_NAMESPACE}/{CALLER_ACCOUNT}"
    assert identity["x-nmp-principal-pod"] == CALLER_POD  # the kubelet's tokens are pod-bound
    assert identity["x-nmp-scopes"] == "platform:read"
    assert f"system:serviceaccounts:{CALLER_NAMESPACE}" in identity["x-nmp-principal-groups"]
    # The pod's default token (audience: the API server) is refused.
    assert summary["default_token"] == [401, "bad_audience"]

"""The one-node cluster: a Ready node at the server's version, a pod scheduled and run
by the kubelet on the CNI bridge, Services through kube-proxy, names through CoreDNS."""

from __future__ import annotations

import ipaddress
import json
from typing import Any

import pytest
import yaml

from tests.support.polling import eventually
from tests.testenv import ClusterEnv
from tests.testenv.node_config import POD_CIDR

pytestmark = [pytest.mark.cluster, pytest.mark.integration, pytest.mark.timeout(600)]


def _wait(what: str, check: Any, timeout: float = 120.0) -> Any:
    return eventually(check, timeout, 0.5, what)


def test_node_ready_at_the_server_version(cluster: ClusterEnv) -> None:
    node = json.loads(cluster.kubectl("get", "node", cluster.node_name, "-o", "json").stdout)
    assert node["status"]["nodeInfo"]["kubeletVersion"] == cluster.kube.version
    assert node["status"]["nodeInfo"]["containerRuntimeVersion"].startswith("containerd://")
    client = cluster.kubectl("version", "--client", "-o", "json").stdout
    assert json.loads(client)["clientVersion"]["gitVersion"] == cluster.kube.version


def test_a_pod_runs_on_the_bridge(cluster: ClusterEnv) -> None:
    """The pause image doubles as a workload: it needs nothing pulled."""
    image = cluster.pause_image
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "smoke", "namespace": "default"},
        "spec": {
            "terminationGracePeriodSeconds": 1,
            "containers": [
                {
                    "name": "pause",
                    "image": image,
                    "imagePullPolicy": "Never",
                    "securityContext": {"runAsUser": 65532},
                }
            ],
        },
    }
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump(pod))

    def running() -> Any:
        got = json.loads(cluster.kubectl("get", "pod/smoke", "-o", "json").stdout)
        return got if got["status"].get("phase") == "Running" else None

    got = _wait("the pod to run", running)
    assert ipaddress.ip_address(got["status"]["podIP"]) in ipaddress.ip_network(POD_CIDR)
    assert any(cluster.crictl("ps", "-q", "--name", "pause").stdout.split())


def test_kubernetes_service_and_dns(cluster: ClusterEnv) -> None:
    import socket
    import struct

    service = json.loads(cluster.kubectl("get", "service/kubernetes", "-o", "json").stdout)
    cluster_ip = service["spec"]["clusterIP"]
    # One A query to CoreDNS on the bridge (the kubelet's clusterDNS).
    labels = b"kubernetes.default.svc.cluster.local".split(b".")
    name = b"".join(bytes([len(p)]) + p for p in labels)
    query = (
        struct.pack(">HHHHHH", 0x4147, 0x0100, 1, 0, 0, 0) + name + b"\0" + struct.pack(">HH", 1, 1)
    )
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(5)
        sock.sendto(query, (cluster.gateway, 53))
        answer = sock.recv(512)
    assert socket.inet_aton(cluster_ip) in answer[len(query) :]

"""The node components' command lines, as plain builders.

Kept apart from :mod:`.cluster` (which starts and stops processes) for the
reason :mod:`.node_config` is: each flag has one place and its reason beside
it, and a flag can be read, diffed or checked without a running cluster.
Ports are passed in (the caller picks free loopback ports) so a builder is a
pure function of its arguments.
"""

from __future__ import annotations

from pathlib import Path

from . import node_config as cfg


def _secure_serving(kubeconfig: Path, port: int) -> list[str]:
    """The flags controller-manager and scheduler share: one identity, loopback only.

    Both serve their own HTTPS health endpoint; it is bound to loopback so
    nothing on the bridge reaches it, and it authenticates with the component's
    own client identity (no anonymous delegated auth)."""
    return [
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        "--bind-address=127.0.0.1",
        f"--secure-port={port}",
        # One controller-manager and one scheduler per cluster: no lease to wait for.
        "--leader-elect=false",
    ]


def controller_manager(
    binary: Path, kubeconfig: Path, sa_signing_key: Path, root_ca: Path, port: int
) -> list[str | Path]:
    """kube-controller-manager: signs service-account tokens and runs the controllers.

    ``--use-service-account-credentials`` gives every controller its own
    identity, as in a real cluster, so RBAC denials surface in tests."""
    return [
        binary,
        *_secure_serving(kubeconfig, port),
        f"--service-account-private-key-file={sa_signing_key}",
        f"--root-ca-file={root_ca}",
        "--use-service-account-credentials=true",
        f"--service-cluster-ip-range={cfg.SERVICE_CIDR}",
        # The node's pod range is the CNI config's, not allocated by the controller.
        "--allocate-node-cidrs=false",
        "--concurrent-deployment-syncs=2",
        "--v=1",
    ]


def scheduler(binary: Path, kubeconfig: Path, port: int) -> list[str | Path]:
    """kube-scheduler: places pods on the one node."""
    return [binary, *_secure_serving(kubeconfig, port), "--v=1"]


def kube_proxy(
    binary: Path, kubeconfig: Path, metrics_port: int, healthz_port: int
) -> list[str | Path]:
    """kube-proxy in iptables mode: Service addresses DNAT to pods on the bridge.

    NodePorts answer on the bridge address only (never another interface), and
    the conntrack settings are left as the host has them (``0`` means "do not
    change"): the test cluster must not retune a shared machine's kernel."""
    return [
        binary,
        f"--kubeconfig={kubeconfig}",
        "--proxy-mode=iptables",
        f"--hostname-override={cfg.NODE_NAME}",
        f"--cluster-cidr={cfg.POD_CIDR}",
        f"--bind-address={cfg.GATEWAY}",
        f"--nodeport-addresses={cfg.GATEWAY}/32",
        "--iptables-localhost-nodeports=false",
        "--conntrack-max-per-core=0",
        "--conntrack-tcp-timeout-established=0s",
        "--conntrack-tcp-timeout-close-wait=0s",
        f"--metrics-bind-address=127.0.0.1:{metrics_port}",
        f"--healthz-bind-address=127.0.0.1:{healthz_port}",
        "--v=1",
    ]


def kubelet(
    binary: Path, config: Path, kubeconfig: Path, root_dir: Path, cert_dir: Path
) -> list[str | Path]:
    """The kubelet: its settings are in the config file (:func:`.node_config.kubelet_config`);
    the flags here are the ones that have no config-file field."""
    return [
        binary,
        f"--config={config}",
        f"--kubeconfig={kubeconfig}",
        f"--root-dir={root_dir}",
        f"--cert-dir={cert_dir}",
        f"--hostname-override={cfg.NODE_NAME}",
        f"--node-ip={cfg.GATEWAY}",
        "--v=1",
    ]

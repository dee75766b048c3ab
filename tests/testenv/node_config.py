"""The one-node cluster's configuration files, as plain text/YAML builders.

Kept apart from :mod:`.cluster` (which starts and stops things) so each
setting has one place and one reason next to it. The addresses:

* ``POD_CIDR`` lives only on the bridge ``BRIDGE`` and in the pods' network
  namespaces. Pods get no default route (the IPAM ``routes`` list only the
  Service range), the bridge plugin does no masquerade, and a FORWARD guard
  drops anything that would leave or enter the bridge through another
  interface: nothing from a pod is ever routed off this machine.
* ``GATEWAY`` (the bridge's own address) is where everything the pods need on
  the host listens: the API server, CoreDNS (the kubelet's ``clusterDNS``),
  the kubelet's API and the cluster's Keycloak.
* ``SERVICE_CIDR`` is virtual: kube-proxy's iptables rules DNAT it to pod
  addresses on the bridge.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

BRIDGE = "agbr0"
POD_CIDR = "10.244.0.0/24"
GATEWAY = "10.244.0.1"
SERVICE_CIDR = "10.96.0.0/24"
KUBERNETES_SERVICE_IP = "10.96.0.1"
NODE_NAME = "authgate-node"
CLUSTER_DOMAIN = "cluster.local"
CNI_NETWORK = "authgate"
#: The iptables chain (filter table, jumped to from FORWARD) that keeps pod traffic
#: on the bridge.
GUARD_CHAIN = "AUTHGATE-CLUSTER"


def containerd_toml(
    root: Path, state: Path, socket: Path, cni_conf_dir: Path, cni_bin_dir: str, pause: str
) -> str:
    """containerd 1.6 (config version 2) with the CRI plugin set up for this machine.

    ``restrict_oom_score_adj``: root here lacks CAP_SYS_RESOURCE, and the CRI asks
    for ``oomScoreAdj: -998`` on sandboxes; unrestricted, runc fails with
    "nsexec: failed to update /proc/self/oom_score_adj: Permission denied".
    ``netns_mounts_under_state_dir``: the pods' network-namespace mounts live in
    our state directory (not /var/run/netns), so teardown finds every one.
    """
    return f"""version = 2
root = "{root}"
state = "{state}"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
                    "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "{socket}"
[ttrpc]
  address = "{socket}.ttrpc"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{pause}"
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "{state}/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{cni_bin_dir}"
    conf_dir = "{cni_conf_dir}"
    max_conf_num = 1
"""


def cni_conflist(ipam_dir: Path) -> str:
    """Debian's containernetworking-plugins bridge + host-local IPAM; no masquerade."""
    return json.dumps(
        {
            "cniVersion": "1.0.0",
            "name": CNI_NETWORK,
            "plugins": [
                {
                    "type": "bridge",
                    "bridge": BRIDGE,
                    "isGateway": True,  # the bridge holds GATEWAY ...
                    "isDefaultGateway": False,  # ... but pods get no default route
                    "ipMasq": False,
                    "hairpinMode": True,  # a pod reaching itself through its Service
                    "ipam": {
                        "type": "host-local",
                        "ranges": [[{"subnet": POD_CIDR, "gateway": GATEWAY}]],
                        "routes": [{"dst": SERVICE_CIDR}],
                        "dataDir": str(ipam_dir),
                    },
                }
            ],
        },
        indent=2,
    )


def kubelet_config(
    *,
    runtime_socket: Path,
    client_ca: Path,
    serving_cert: Path,
    serving_key: Path,
    port: int,
    healthz_port: int,
    resolv_conf: Path,
    sync_seconds: int,
) -> str:
    """KubeletConfiguration for a 2-core, 24 GiB shared machine with cgroup v1.

    * ``failCgroupV1: false``: recent kubelets refuse cgroup v1 without it.
    * ``cgroupfs`` driver: PID 1 is not systemd.
    * ``syncFrequency``: how often the kubelet re-syncs every pod, which bounds how
      late a changed ConfigMap reaches a mounted volume (the Watch strategy feeds
      the cache at once; the volume is rewritten at the pod's next sync).
    * eviction thresholds low and a modest ``systemReserved``: the machine's disk
      and memory are shared with other suites, and an eviction would be a flake,
      not a finding.
    * the kubelet's API listens on the bridge address only, accepts client
      certificates of the test CA (the API server's) and nothing anonymous.
    """
    config = {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "failCgroupV1": False,
        "cgroupDriver": "cgroupfs",
        "containerRuntimeEndpoint": f"unix://{runtime_socket}",
        "address": GATEWAY,
        "port": port,
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": healthz_port,
        "tlsCertFile": str(serving_cert),
        "tlsPrivateKeyFile": str(serving_key),
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": False},
            "x509": {"clientCAFile": str(client_ca)},
        },
        "authorization": {"mode": "AlwaysAllow"},
        "clusterDNS": [GATEWAY],
        "clusterDomain": CLUSTER_DOMAIN,
        "resolvConf": str(resolv_conf),
        "failSwapOn": False,
        "syncFrequency": f"{sync_seconds}s",
        "fileCheckFrequency": "20s",
        "nodeStatusUpdateFrequency": "10s",
        "serializeImagePulls": False,
        "maxPods": 60,
        "systemReserved": {"cpu": "100m", "memory": "1Gi"},
        "evictionHard": {
            "memory.available": "200Mi",
            "nodefs.available": "1%",
            "imagefs.available": "1%",
            "nodefs.inodesFree": "1%",
        },
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "makeIPTablesUtilChains": False,
        "rotateCertificates": False,
        "serverTLSBootstrap": False,
        "shutdownGracePeriod": "0s",
        "registerNode": True,
    }
    return yaml.safe_dump(config, sort_keys=False)


def corefile(kubeconfig: Path, health_port: int, ready_port: int) -> str:
    """CoreDNS for the cluster domain only: no ``forward``, nothing resolves off-machine."""
    return f""".:53 {{
    bind {GATEWAY}
    errors
    health 127.0.0.1:{health_port}
    ready 127.0.0.1:{ready_port}
    kubernetes {CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {{
        kubeconfig {kubeconfig}
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }}
    cache 5
}}
"""


def kubeconfig(server: str, ca_file: Path, cert: Path, key: Path, user: str) -> str:
    """A client-certificate kubeconfig for one component."""
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "cluster",
                    "cluster": {"server": server, "certificate-authority": str(ca_file)},
                }
            ],
            "users": [
                {"name": user, "user": {"client-certificate": str(cert), "client-key": str(key)}}
            ],
            "contexts": [{"name": "default", "context": {"cluster": "cluster", "user": user}}],
            "current-context": "default",
        }
    )

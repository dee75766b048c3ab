"""A real one-node Kubernetes cluster on this machine, started once per session.

The control plane is :class:`.kube.KubeEnv`'s etcd + kube-apiserver, moved onto
the cluster bridge and run with the flags of a real cluster (ServiceAccount
admission, the endpoint reconciler, Node authorization, webhook calls routed
to Service endpoints), plus kube-controller-manager and kube-scheduler, all at
the same version. The node is a kubelet on Debian's containerd and runc over
CRI, with cgroup v1 (``failCgroupV1: false``, cgroupfs), a locally built pause
image, Debian's CNI bridge plugin, kube-proxy (iptables) for Services and
CoreDNS for the cluster domain. Addresses and the settings' reasons:
:mod:`.node_config`; the components' flags: :mod:`.node_args`; what teardown
removes: :mod:`.node_cleanup`.

Only one cluster can run on a machine at a time (the bridge, the pod range and
kube-proxy's iptables chains are host-wide), so a lock in the cache serialises
sessions (:mod:`.host_lock`); a session that died without teardown is cleaned up by the next one
(its record in ``~/.cache/authgate/cluster/last-session.json``). containerd's
image store lives in the cache too, so images imported once are there on the
next (warm) start.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from ..support.ports import free_port
from . import node_args as args
from . import node_cleanup as cleanup
from . import node_config as cfg
from .ca import TestCA
from .components import cache_dir, executable, setting
from .errors import ComponentFailed, ComponentMissing, TestEnvError
from .host_lock import HostLock
from .kube import KubeEnv
from .process import ManagedProcess

LOCK_TIMEOUT = float(os.environ.get("AUTHGATE_CLUSTER_LOCK_TIMEOUT", "1200"))
#: The kubelet's pod re-sync period (bounds ConfigMap-volume propagation; docs/testenv.md).
SYNC_SECONDS = int(os.environ.get("AUTHGATE_KUBELET_SYNC_SECONDS", "10"))
NODE_BINARIES = ("kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy", "kubectl")


class ClusterControlPlane(KubeEnv):
    """etcd + kube-apiserver as a real cluster's: on the bridge, every controller's flags."""

    host = cfg.GATEWAY
    service_cluster_ip_range = cfg.SERVICE_CIDR

    def serving_names(self) -> list[str]:
        service = "kubernetes.default.svc"
        return [
            cfg.GATEWAY,
            cfg.KUBERNETES_SERVICE_IP,
            "kubernetes",
            "kubernetes.default",
            service,
            f"{service}.{cfg.CLUSTER_DOMAIN}",
        ]

    def apiserver_args(self) -> list[str]:
        kubelet_cert, kubelet_key = self.ca.issue(
            [],
            common_name="kube-apiserver-kubelet-client",
            organizations=["system:masters"],
            client=True,
        )
        return [
            "--authorization-mode=Node,RBAC",
            "--enable-admission-plugins=NodeRestriction",
            # Admission webhooks (and aggregated APIs) are called at the Service's
            # endpoint address: the API server runs on the host, where no kube-proxy
            # rule applies to its own outgoing connections before routing.
            "--enable-aggregator-routing=true",
            f"--kubelet-client-certificate={kubelet_cert}",
            f"--kubelet-client-key={kubelet_key}",
            "--kubelet-preferred-address-types=InternalIP",
            f"--api-audiences={self.server}",
        ]


def _node_binary(name: str) -> Path:
    directory = setting("AUTHGATE_KUBE_NODE_BIN")
    if not directory:
        raise ComponentMissing("AUTHGATE_KUBE_NODE_BIN is not set; run `make testenv`")
    return executable(Path(directory) / name, f"{name} in AUTHGATE_KUBE_NODE_BIN={directory}")


def _binary_setting(variable: str, what: str) -> Path:
    return executable(setting(variable), f"{what} (${variable})")


def _run_tool(argv: list[str], *, timeout: float, check: bool) -> subprocess.CompletedProcess[str]:
    """Run a containerd client; a failure names the tool, its arguments and stderr's tail."""
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        tool = Path(argv[0]).name
        raise TestEnvError(f"{tool} {' '.join(argv[1:])}: {result.stderr.strip()[-2000:]}")
    return result


class ClusterEnv:
    """The running cluster; ``kube`` is its control plane (kubeconfig, kubectl, client)."""

    def __init__(self, directory: Path, ca: TestCA) -> None:
        self.directory = directory
        self.ca = ca
        self.bins = {name: _node_binary(name) for name in NODE_BINARIES}
        self.containerd_bin = _binary_setting("AUTHGATE_CONTAINERD", "containerd")
        self.crictl_bin = _binary_setting("AUTHGATE_CRICTL", "crictl")
        self.coredns_bin = _binary_setting("AUTHGATE_COREDNS", "coredns")
        self.cni_bin_dir = setting("AUTHGATE_CNI_BIN_DIR") or "/usr/lib/cni"
        executable(Path(self.cni_bin_dir) / "bridge", "CNI bridge plugin ($AUTHGATE_CNI_BIN_DIR)")
        executable(Path(self.cni_bin_dir) / "host-local", "CNI host-local plugin")
        pause_tar = setting("AUTHGATE_PAUSE_IMAGE_TAR")
        if not pause_tar or not Path(pause_tar).is_file():
            raise ComponentMissing(f"pause image not found ({pause_tar!r}); run `make testenv`")
        self.pause_tar = Path(pause_tar)
        self.pause_image = setting("AUTHGATE_PAUSE_IMAGE") or "authgate.local/pause:1"
        if os.geteuid() != 0:
            raise ComponentMissing("the one-node cluster needs root (bridge, mounts, cgroups)")
        self.state_home = cache_dir() / "cluster"
        self.containerd_root = self.state_home / "containerd-root"
        # Sockets (containerd's, the kubelet's pod-resources and plugin sockets) must fit
        # in sun_path (108 bytes), which a pytest basetemp inside a test's tmp_path does
        # not: the node's run and root directories live in the cache, one per machine
        # (the lock), wiped at every start and stop.
        self.node_dir = self.state_home / "node"
        self.run_dir = self.node_dir / "run"
        self.socket = self.run_dir / "containerd.sock"
        self.kubelet_root = self.node_dir / "kubelet"
        self.kube = ClusterControlPlane(directory / "control-plane", ca)
        self.processes: dict[str, ManagedProcess] = {}
        self.started_seconds = 0.0
        self.sync_seconds = SYNC_SECONDS
        self.node_name = cfg.NODE_NAME
        self.gateway = cfg.GATEWAY
        self._lock = HostLock(self.state_home / "lock", LOCK_TIMEOUT)
        self._ip_forward = ""

    # -- what tests use ----------------------------------------------------------------------
    def kubectl(self, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return self.kube.kubectl(*args, **kwargs)

    def ctr(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        argv = ["ctr", "--address", str(self.socket), "--namespace", "k8s.io", *args]
        return _run_tool(argv, timeout=timeout, check=True)

    def crictl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        endpoint = f"unix://{self.socket}"
        argv = [str(self.crictl_bin), f"--runtime-endpoint={endpoint}"]
        argv += [f"--image-endpoint={endpoint}", "--timeout=30s", *args]
        return _run_tool(argv, timeout=120, check=check)

    def has_image(self, reference: str) -> bool:
        names = self.ctr("images", "ls", "-q").stdout.split()
        return reference in names or f"docker.io/library/{reference}" in names

    def import_image(self, tar: Path) -> None:
        """``ctr -n k8s.io images import``: the kubelet finds it, nothing is pulled."""
        self.ctr("images", "import", str(tar))

    def log_files(self) -> list[Path]:
        return [*self.kube.log_files(), *(p.log_file for p in self.processes.values())]

    def leftover_needles(self) -> list[str]:
        return [str(self.directory), str(self.node_dir), str(self.socket)]

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        started = time.monotonic()
        self._lock.acquire()
        self._clean_previous_session()
        self.directory.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(self.node_dir, ignore_errors=True)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._ip_forward = cleanup.ip_forward()
        self._record_session()
        try:
            cleanup.install_forward_guard(forwarding_was_on=self._ip_forward == "1")
            cleanup.create_bridge(f"{cfg.GATEWAY}/24")
        except OSError as exc:
            raise ComponentFailed(f"cluster network: {exc}", "") from None
        self.kube.start()
        self._start_containerd()
        self._start_control_plane_components()
        self._start_kubelet()
        self._wait_node_ready()
        self.started_seconds = time.monotonic() - started

    def stop(self) -> None:
        """Stop everything by the pid we started, then remove what the node left.

        SIGTERM is ignored meanwhile: a runner that signals a session already tearing
        down (the test session turns SIGTERM into KeyboardInterrupt) would otherwise
        cut the cleanup short and leave mounts, cgroups, chains and the bridge."""
        if not self._lock.held:
            return  # never started (or another session holds the host): touch nothing
        in_main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGTERM, signal.SIG_IGN) if in_main else None
        try:
            self._stop()
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)

    def _stop(self) -> None:
        for name in ("kube-controller-manager", "kube-scheduler", "kubelet"):
            if name in self.processes:
                self.processes[name].stop(timeout=20)
        if "containerd" in self.processes and self.processes["containerd"].alive():
            # Pods go through CRI: CNI DEL frees each address and veth, the network
            # namespace is unmounted, runc deletes the containers.
            self.crictl("rmp", "--all", "--force", check=False)
        for name in ("containerd", "coredns", "kube-proxy"):
            if name in self.processes:
                self.processes[name].stop(timeout=20)
        self._remove_host_state(
            [self.directory, self.node_dir, self.containerd_root],
            self.leftover_needles(),
            self._ip_forward,
        )
        self.kube.stop()
        (self.state_home / "last-session.json").unlink(missing_ok=True)
        self._lock.release()

    def _remove_host_state(self, roots: list[Path], needles: list[str], forward: str) -> None:
        cleanup.kill_processes_mentioning(needles)  # shims outlive containerd
        cleanup.unmount_all(roots)
        cleanup.remove_kube_cgroups()
        subprocess.run([str(self.bins["kube-proxy"]), "--cleanup"], capture_output=True, timeout=60)
        cleanup.remove_kube_chains()
        cleanup.delete_bridge()
        cleanup.set_ip_forward(forward)
        cleanup.remove_forward_guard()
        if not cleanup.mounts_under([self.node_dir]):
            shutil.rmtree(self.node_dir, ignore_errors=True)

    # -- crash recovery ----------------------------------------------------------------------
    def _record_session(self) -> None:
        record = {
            "directory": str(self.directory),
            "needles": self.leftover_needles(),
            "ip_forward": self._ip_forward,
        }
        (self.state_home / "last-session.json").write_text(json.dumps(record))

    def _clean_previous_session(self) -> None:
        """A session killed without teardown left its daemons and host state: remove them."""
        path = self.state_home / "last-session.json"
        if not path.is_file():
            return
        record = json.loads(path.read_text())
        roots = [Path(record["directory"]), self.node_dir, self.containerd_root]
        self._remove_host_state(roots, list(record["needles"]), str(record.get("ip_forward", "")))
        path.unlink(missing_ok=True)

    # -- components --------------------------------------------------------------------------
    def _process(self, name: str, argv: list[str | Path]) -> ManagedProcess:
        process = ManagedProcess(name, argv, self.directory / "logs" / f"{name}.log")
        process.start()
        self.processes[name] = process
        return process

    def _client_kubeconfig(self, name: str, user: str, groups: list[str]) -> Path:
        cert, key = self.ca.issue([], common_name=user, organizations=groups, client=True)
        path = self.directory / "kubeconfigs" / f"{name}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(cfg.kubeconfig(self.kube.server, self.ca.cert_file, cert, key, user))
        return path

    def _start_containerd(self) -> None:
        self.containerd_root.mkdir(parents=True, exist_ok=True)
        conf_dir = self.directory / "cni"
        conf_dir.mkdir(parents=True, exist_ok=True)
        (conf_dir / "10-authgate.conflist").write_text(cfg.cni_conflist(self.directory / "ipam"))
        config = self.directory / "containerd.toml"
        config.write_text(
            cfg.containerd_toml(
                self.containerd_root,
                self.run_dir / "containerd",
                self.socket,
                conf_dir,
                self.cni_bin_dir,
                self.pause_image,
            )
        )
        process = self._process("containerd", [self.containerd_bin, "--config", config])
        process.wait_ready(
            lambda: self.socket.is_socket() and self.crictl("version").returncode == 0,
            timeout=60,
            what="CRI socket",
        )
        if not self.has_image(self.pause_image):
            self.import_image(self.pause_tar)

    def _start_control_plane_components(self) -> None:
        kcm = self._client_kubeconfig("controller-manager", "system:kube-controller-manager", [])
        self._process(
            "kube-controller-manager",
            args.controller_manager(
                self.bins["kube-controller-manager"],
                kcm,
                self.kube.sa_signing_key,
                self.ca.cert_file,
                free_port(),
            ),
        )
        scheduler = self._client_kubeconfig("scheduler", "system:kube-scheduler", [])
        self._process(
            "kube-scheduler", args.scheduler(self.bins["kube-scheduler"], scheduler, free_port())
        )
        proxy = self._client_kubeconfig("kube-proxy", "system:kube-proxy", [])
        self._process(
            "kube-proxy",
            args.kube_proxy(self.bins["kube-proxy"], proxy, free_port(), free_port()),
        )
        # CoreDNS reads Services and EndpointSlices cluster-wide: the admin identity.
        dns_health, dns_ready = free_port(), free_port()
        corefile = self.directory / "Corefile"
        corefile.write_text(cfg.corefile(self.kube.kubeconfig, dns_health, dns_ready))
        self._process("coredns", [self.coredns_bin, "-conf", corefile])
        self._dns_ready_url = f"http://127.0.0.1:{dns_ready}/ready"

    def _start_kubelet(self) -> None:
        kubeconfig = self._client_kubeconfig(
            "kubelet", f"system:node:{cfg.NODE_NAME}", ["system:nodes"]
        )
        serving_cert, serving_key = self.ca.issue([cfg.GATEWAY, cfg.NODE_NAME], "kubelet")
        resolv = self.directory / "resolv.conf"
        resolv.write_text("# no upstream resolver: pods resolve the cluster domain only\n")
        config = self.directory / "kubelet.yaml"
        config.write_text(
            cfg.kubelet_config(
                runtime_socket=self.socket,
                client_ca=self.ca.cert_file,
                serving_cert=serving_cert,
                serving_key=serving_key,
                port=free_port(),
                healthz_port=free_port(),
                resolv_conf=resolv,
                sync_seconds=SYNC_SECONDS,
            )
        )
        self.kubelet_root.mkdir(parents=True, exist_ok=True)
        self._process(
            "kubelet",
            args.kubelet(
                self.bins["kubelet"],
                config,
                kubeconfig,
                self.kubelet_root,
                self.directory / "kubelet-pki",
            ),
        )

    def _wait_node_ready(self, timeout: float = 180.0) -> None:
        import urllib.request

        def node_ready() -> bool:
            out = self.kubectl("get", "node", cfg.NODE_NAME, "-o", "json", check=False)
            if out.returncode != 0:
                return False
            conditions = json.loads(out.stdout)["status"].get("conditions") or []
            return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)

        def dns_ready() -> bool:
            with urllib.request.urlopen(self._dns_ready_url, timeout=3) as response:
                return bool(response.status == 200)

        def default_account() -> bool:
            return self.kubectl("get", "serviceaccount", "default", check=False).returncode == 0

        kubelet = self.processes["kubelet"]
        kubelet.wait_ready(node_ready, timeout=timeout, what=f"node {cfg.NODE_NAME} Ready")
        self.processes["coredns"].wait_ready(dns_ready, timeout=60, what="CoreDNS /ready")
        self.processes["kube-controller-manager"].wait_ready(
            default_account, timeout=60, what="the default ServiceAccount"
        )
        for name, process in self.processes.items():
            if not process.alive():
                raise ComponentFailed(
                    f"{name} exited with code {process.returncode()}", process.log_tail()
                )

"""What a kubelet node leaves on the host, found and removed.

A kubelet and containerd change the host beyond their own processes: the
kubelet bind-mounts its root directory onto itself and creates ``kubepods``
cgroups in *every* hierarchy (on cgroup v1 including ``name=systemd`` and the
``unified`` v2 mount), containerd mounts each container's root filesystem and
each pod's network namespace, the shims outlive containerd (they are
re-parented, not in its process group), the CNI bridge and its veths stay, and
kube-proxy leaves its iptables chains. Each function here finds one kind of
leftover, so teardown can remove it and ``tests/testenv_smoke`` can prove that
nothing is left.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path

from .node_config import BRIDGE, GUARD_CHAIN, SERVICE_CIDR

CGROUP_ROOT = Path("/sys/fs/cgroup")
KUBE_CGROUP = "kubepods"


def _unescape(field: str) -> str:
    """/proc/self/mountinfo escapes space, tab, newline and backslash as octal."""
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(code, char)
    return field


def mounts_under(roots: Iterable[Path]) -> list[str]:
    """Mount points at or below any of ``roots``, deepest first."""
    prefixes = [str(r).rstrip("/") for r in roots]
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = _unescape(line.split()[4])
        if any(point == p or point.startswith(p + "/") for p in prefixes):
            found.append(point)
    return sorted(set(found), key=lambda p: (-p.count("/"), p))


def unmount_all(roots: Iterable[Path]) -> list[str]:
    """Unmount everything below ``roots``; returns what would not go (even lazily)."""
    roots = list(roots)
    for _ in range(5):
        points = mounts_under(roots)
        if not points:
            return []
        for point in points:
            if subprocess.run(["umount", point], capture_output=True).returncode != 0:
                subprocess.run(["umount", "-l", point], capture_output=True)
    return mounts_under(roots)


def kube_cgroups() -> list[Path]:
    """Every ``kubepods`` cgroup directory, one per hierarchy that has one."""
    found = []
    for hierarchy in sorted(CGROUP_ROOT.iterdir()) if CGROUP_ROOT.is_dir() else []:
        candidate = hierarchy / KUBE_CGROUP
        if candidate.is_dir():
            found.append(candidate)
    return found


def _cgroup_pids(tree: Path) -> set[int]:
    pids: set[int] = set()
    for procs in tree.rglob("cgroup.procs"):
        try:
            pids |= {int(p) for p in procs.read_text().split()}
        except OSError:
            continue
    return pids


def remove_kube_cgroups(timeout: float = 20.0) -> list[Path]:
    """Kill whatever still runs in a ``kubepods`` cgroup, then remove the trees
    bottom-up. Returns the directories that could not be removed."""
    deadline = time.monotonic() + timeout
    while True:
        trees = kube_cgroups()
        for tree in trees:
            for pid in _cgroup_pids(tree):
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            for directory in sorted(
                (d for d in tree.rglob("*") if d.is_dir()), key=lambda d: -len(d.parts)
            ):
                try:
                    directory.rmdir()
                except OSError:
                    pass
            try:
                tree.rmdir()
            except OSError:
                pass
        left = kube_cgroups()
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.5)


def processes_mentioning(needles: Iterable[str], exclude: Iterable[int] = ()) -> list[str]:
    """``"pid: cmdline"`` of every process whose command line contains a needle."""
    needles = [n for n in needles if n]
    skip = {os.getpid(), *exclude}
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in skip:
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if any(n in cmdline for n in needles):
            found.append(f"{entry.name}: {cmdline[:160]}")
    return found


def kill_processes_mentioning(needles: Iterable[str], timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL, each process found by :func:`processes_mentioning`."""
    needles = list(needles)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        pids = [int(p.split(":", 1)[0]) for p in processes_mentioning(needles)]
        for pid in pids:
            try:
                os.kill(pid, sig)
            except (ProcessLookupError, PermissionError):
                pass
        deadline = time.monotonic() + timeout
        while pids and time.monotonic() < deadline:
            pids = [p for p in pids if Path(f"/proc/{p}").exists()]
            time.sleep(0.2)
        if not pids:
            return


def _iptables(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["iptables", "-w", "5", *args], capture_output=True, text=True)


IP_FORWARD = Path("/proc/sys/net/ipv4/ip_forward")


def ip_forward() -> str:
    return IP_FORWARD.read_text().strip()


def set_ip_forward(value: str) -> None:
    """The CNI bridge plugin (``isGateway``) switches global forwarding on; teardown puts
    back what was there."""
    if value in ("0", "1") and ip_forward() != value:
        IP_FORWARD.write_text(value + "\n")


def install_forward_guard(forwarding_was_on: bool) -> None:
    """FORWARD: only packets between the bridge's own ports (pod -> Service -> pod) are
    forwarded, so no pod packet is routed off the machine and none from outside reaches a
    pod. If this host forwarded nothing before, nothing else is forwarded now either (the
    bridge plugin's global ``ip_forward=1`` must not open other interfaces)."""
    remove_forward_guard()
    _iptables("-N", GUARD_CHAIN)
    _iptables("-A", GUARD_CHAIN, "-i", BRIDGE, "-o", BRIDGE, "-j", "RETURN")
    if forwarding_was_on:
        _iptables("-A", GUARD_CHAIN, "-i", BRIDGE, "-j", "DROP")
        _iptables("-A", GUARD_CHAIN, "-o", BRIDGE, "-j", "DROP")
    else:
        _iptables("-A", GUARD_CHAIN, "-j", "DROP")
    result = _iptables("-I", "FORWARD", "1", "-j", GUARD_CHAIN)
    if result.returncode != 0:
        raise OSError(f"iptables: {result.stderr.strip()}")


def remove_forward_guard() -> None:
    while _iptables("-D", "FORWARD", "-j", GUARD_CHAIN).returncode == 0:
        pass
    _iptables("-F", GUARD_CHAIN)
    _iptables("-X", GUARD_CHAIN)


def remove_kube_chains() -> None:
    """What ``kube-proxy --cleanup`` leaves: the kubelet's ``KUBE-FIREWALL`` (and any
    other ``KUBE-*`` chain): drop the jumps to it from the built-in chains, then it."""
    for entry in cluster_chains():
        table, chain = entry.split("/", 1)
        if GUARD_CHAIN in chain:
            continue
        for line in _iptables("-t", table, "-S").stdout.splitlines():
            if line.startswith("-A ") and f"-j {chain}" in line.split(" -m comment")[0] + " ":
                _iptables("-t", table, "-D", *line[3:].split())
        _iptables("-t", table, "-F", chain)
    for entry in cluster_chains():
        table, chain = entry.split("/", 1)
        if GUARD_CHAIN not in chain:
            _iptables("-t", table, "-X", chain)


def cluster_chains() -> list[str]:
    """iptables chains of kube-proxy, the kubelet or our guard still present."""
    found = []
    for table in ("filter", "nat", "mangle"):
        result = _iptables("-t", table, "-S")
        for line in result.stdout.splitlines():
            if line.startswith("-N ") and (line[3:].startswith("KUBE-") or GUARD_CHAIN in line):
                found.append(f"{table}/{line[3:]}")
    return found


def bridge_exists() -> bool:
    return Path(f"/sys/class/net/{BRIDGE}").exists()


def create_bridge(address_cidr: str) -> None:
    """The CNI bridge, created up front so the host services can bind its address."""
    delete_bridge()
    for argv in (
        ["ip", "link", "add", BRIDGE, "type", "bridge"],
        ["ip", "addr", "add", address_cidr, "dev", BRIDGE],
        ["ip", "link", "set", BRIDGE, "up"],
        # The Service range is virtual (kube-proxy DNATs it to pods); without this
        # route the host would send a not-yet-translated packet out of its default route.
        ["ip", "route", "add", SERVICE_CIDR, "dev", BRIDGE, "src", address_cidr.split("/")[0]],
    ):
        result = subprocess.run(argv, capture_output=True, text=True)
        if result.returncode != 0:
            raise OSError(f"{' '.join(argv)}: {result.stderr.strip()}")
    # Forwarding only for packets arriving on the bridge (pod -> Service -> pod after
    # kube-proxy's DNAT); eth0 and the global switch stay as they are.
    Path(f"/proc/sys/net/ipv4/conf/{BRIDGE}/forwarding").write_text("1\n")


def delete_bridge() -> None:
    if bridge_exists():
        subprocess.run(["ip", "link", "delete", BRIDGE], capture_output=True)


def leftovers(roots: Iterable[Path], needles: Iterable[str]) -> dict[str, list[str]]:
    """Everything a node may leave behind, by kind (empty lists: a clean host)."""
    return {
        "processes": processes_mentioning(needles),
        "mounts": mounts_under(roots),
        "cgroups": [str(c) for c in kube_cgroups()],
        "iptables": cluster_chains(),
        "bridge": [BRIDGE] if bridge_exists() else [],
    }

"""The node components listen on loopback or the cluster bridge only (the network rule).

Every address flag the builders in :mod:`tests.testenv.node_args` emit is checked
without starting anything, so a flag that would open a port on another
interface fails here before any cluster runs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.testenv import node_args
from tests.testenv.node_config import GATEWAY

ALLOWED_HOSTS = {"127.0.0.1", GATEWAY, f"{GATEWAY}/32"}
BIN = Path("/bin/true")
FILE = Path("/nonexistent")

COMMANDS = {
    "kube-controller-manager": node_args.controller_manager(BIN, FILE, FILE, FILE, 10257),
    "kube-scheduler": node_args.scheduler(BIN, FILE, 10259),
    "kube-proxy": node_args.kube_proxy(BIN, FILE, 10249, 10256),
    "kubelet": node_args.kubelet(BIN, FILE, FILE, FILE, FILE),
}


def _address_flags(argv: list[str | Path]) -> dict[str, str]:
    flags = {}
    for item in map(str, argv[1:]):
        name, _, value = item.partition("=")
        if "address" in name or name in {"--node-ip"}:
            flags[name] = value
    return flags


@pytest.mark.parametrize("component", sorted(COMMANDS))
def test_every_address_is_loopback_or_the_bridge(component: str) -> None:
    flags = _address_flags(COMMANDS[component])
    assert flags, f"{component} names no address: the check would prove nothing"
    for name, value in flags.items():
        host = value.rsplit(":", 1)[0] if value.count(":") == 1 else value
        assert host in ALLOWED_HOSTS, f"{component} {name}={value}"


def test_no_component_elects_a_leader_or_retunes_conntrack() -> None:
    """One replica each (no lease to wait for); the host's conntrack settings are kept."""
    for component in ("kube-controller-manager", "kube-scheduler"):
        assert "--leader-elect=false" in COMMANDS[component]
    conntrack = [str(a) for a in COMMANDS["kube-proxy"] if str(a).startswith("--conntrack")]
    assert conntrack and all(a.endswith(("=0", "=0s")) for a in conntrack)

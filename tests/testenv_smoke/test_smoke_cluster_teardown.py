"""The cluster's teardown leaves no process, mount, container (shim), cgroup, iptables
chain or bridge behind: after a normal run and after SIGTERM while a pod runs.

Each case runs a cluster test in a child pytest. Only one cluster runs on a machine
at a time, so these tests are ordered before every test that uses this session's
own cluster (``cluster_child`` marker, tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.testenv import ClusterEnv
from tests.testenv.availability import require
from tests.testenv.components import cache_dir
from tests.testenv.node_cleanup import leftovers

from .child_session import run_child, terminate_child_once

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.integration,
    pytest.mark.cluster_child,
    pytest.mark.timeout(900),
]

TARGET = "tests/testenv_smoke/test_smoke_cluster.py::test_a_pod_runs_on_the_bridge"


@pytest.fixture
def cluster_available(tmp_path: Path) -> None:
    require(lambda: ClusterEnv(tmp_path / "probe", None))  # type: ignore[arg-type]  # finds binaries


def _assert_clean(basetemp: Path, output: str = "") -> None:
    node = cache_dir() / "cluster" / "node"  # ClusterEnv.node_dir: sockets, kubelet root
    found = leftovers([basetemp, node], [str(basetemp), str(node)])
    assert found == {k: [] for k in found}, f"{found}\nchild session:\n{output[-6000:]}"
    assert not node.exists(), "the node's directory is left"


def test_nothing_left_after_a_run(cluster_available: None, tmp_path: Path) -> None:
    run_child(TARGET, tmp_path / "run", timeout=800)
    _assert_clean(tmp_path / "run")


def test_nothing_left_after_sigterm_with_a_pod_running(
    cluster_available: None, tmp_path: Path
) -> None:
    basetemp = tmp_path / "term"
    node = cache_dir() / "cluster" / "node"  # a shim of the child's containerd: a pod runs
    output = terminate_child_once(TARGET, basetemp, node, "containerd-shim", wait=600, grace=3)
    _assert_clean(basetemp, output)

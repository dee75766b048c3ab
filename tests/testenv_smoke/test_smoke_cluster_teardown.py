"""The cluster's teardown leaves no process, mount, container (shim), cgroup, iptables
chain or bridge behind: after a normal run and after SIGTERM while a pod runs.

Each case runs a cluster test in a child pytest. Only one cluster runs on a machine
at a time, so these tests are ordered before every test that uses this session's
own cluster (``cluster_child`` marker, tests/conftest.py)."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from tests.support.processes import child_pytest
from tests.testenv import ClusterEnv
from tests.testenv.components import cache_dir
from tests.testenv.errors import ComponentMissing
from tests.testenv.node_cleanup import leftovers, processes_mentioning

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.integration,
    pytest.mark.cluster_child,
    pytest.mark.timeout(900),
]

TARGET = "tests/testenv_smoke/test_smoke_cluster.py::test_a_pod_runs_on_the_bridge"


@pytest.fixture
def cluster_available(tmp_path: Path) -> None:
    try:
        ClusterEnv(tmp_path / "probe", None)  # type: ignore[arg-type]  # only finds binaries
    except ComponentMissing as exc:
        if __import__("os").environ.get("CI", "").lower() == "true":
            pytest.fail(str(exc))
        pytest.skip(str(exc))


def _assert_clean(basetemp: Path, output: str = "") -> None:
    node = cache_dir() / "cluster" / "node"  # ClusterEnv.node_dir: sockets, kubelet root
    found = leftovers([basetemp, node], [str(basetemp), str(node)])
    assert found == {k: [] for k in found}, f"{found}\nchild session:\n{output[-6000:]}"
    assert not node.exists(), "the node's directory is left"


def test_nothing_left_after_a_run(cluster_available: None, tmp_path: Path) -> None:
    proc = child_pytest(TARGET, tmp_path / "run")
    output, _ = proc.communicate(timeout=800)
    assert proc.returncode == 0, output
    assert "1 passed" in output
    _assert_clean(tmp_path / "run")


def test_nothing_left_after_sigterm_with_a_pod_running(
    cluster_available: None, tmp_path: Path
) -> None:
    basetemp = tmp_path / "term"
    proc = child_pytest(TARGET, basetemp)
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:  # a shim of the child's containerd: a pod runs
            if any(
                "containerd-shim" in p
                for p in processes_mentioning(
                    [str(cache_dir() / "cluster" / "node")], exclude=[proc.pid]
                )
            ):
                break
            if proc.poll() is not None:
                pytest.fail(f"child exited early:\n{proc.stdout.read() if proc.stdout else ''}")
            time.sleep(0.5)
        else:
            pytest.fail("no pod sandbox started in the child session")
        time.sleep(3)
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    _assert_clean(basetemp, output)

"""No leaked processes: the control plane is stopped after a run and after SIGTERM."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.testenv.availability import require
from tests.testenv.components import kubebuilder_asset
from tests.testenv.node_cleanup import processes_mentioning

from .child_session import run_child, terminate_child_once

pytestmark = [pytest.mark.k8s, pytest.mark.integration]

TARGET = "tests/testenv_smoke/test_smoke_kube.py::test_server_reports_real_version"


@pytest.fixture
def control_plane_available() -> None:
    require(lambda: (kubebuilder_asset("etcd"), kubebuilder_asset("kube-apiserver")))


def test_processes_stopped_after_run(control_plane_available: None, tmp_path: Path) -> None:
    run_child(TARGET, tmp_path / "run", timeout=280)  # the child has exited: nothing may remain
    assert processes_mentioning([str(tmp_path / "run")]) == []


def test_processes_stopped_after_sigterm(control_plane_available: None, tmp_path: Path) -> None:
    basetemp = tmp_path / "term"
    terminate_child_once(TARGET, basetemp, basetemp, "kube-apiserver", wait=120)
    assert processes_mentioning([str(basetemp)]) == []

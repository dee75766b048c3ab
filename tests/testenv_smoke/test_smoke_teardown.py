"""No leaked processes: the control plane is stopped after a run and after SIGTERM."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from tests.support.processes import child_pytest
from tests.testenv.components import kubebuilder_asset
from tests.testenv.errors import ComponentMissing

pytestmark = [pytest.mark.k8s, pytest.mark.integration]

TARGET = "tests/testenv_smoke/test_smoke_kube.py::test_server_reports_real_version"


@pytest.fixture
def control_plane_available() -> None:
    try:
        kubebuilder_asset("etcd")
        kubebuilder_asset("kube-apiserver")
    except ComponentMissing as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(str(exc))
        pytest.skip(str(exc))


def _processes_under(path: Path, exclude: int = -1) -> list[str]:
    """Processes whose command line mentions `path` (the child session's basetemp)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == exclude:
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if str(path) in cmdline:
            found.append(f"{entry.name}: {cmdline[:120]}")
    return found


def test_processes_stopped_after_run(control_plane_available, tmp_path: Path) -> None:
    proc = child_pytest(TARGET, tmp_path / "run")
    output, _ = proc.communicate(timeout=280)  # the child has exited: nothing may remain
    assert proc.returncode == 0, output
    assert "1 passed" in output
    assert _processes_under(tmp_path / "run") == []


def test_processes_stopped_after_sigterm(control_plane_available, tmp_path: Path) -> None:
    proc = child_pytest(TARGET, tmp_path / "term")
    try:
        for _ in range(240):  # bounded: up to 120 s for the apiserver to be started
            running = _processes_under(tmp_path / "term", exclude=proc.pid)
            if any("kube-apiserver" in p for p in running):
                break
            time.sleep(0.5)
        else:
            pytest.fail("kube-apiserver never started in the child session")
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert _processes_under(tmp_path / "term") == []

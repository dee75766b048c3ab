"""Missing components skip outside CI and fail under CI=true (never skip in CI)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TARGET = "tests/testenv_smoke/test_smoke_kube.py::test_server_reports_real_version"


def _run(tmp_path: Path, ci: bool) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k != "CI" and k != "KUBEBUILDER_ASSETS" and not k.startswith("AUTHGATE_")
    }
    env["XDG_CACHE_HOME"] = str(tmp_path / "empty-cache")  # no env.sh to fall back on
    if ci:
        env["CI"] = "true"
    return subprocess.run(
        [sys.executable, "-m", "pytest", TARGET, "-q", "-rs", "-p", "no:cacheprovider"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.integration
def test_missing_component_skips_outside_ci(tmp_path: Path) -> None:
    result = _run(tmp_path, ci=False)
    assert result.returncode == 0, result.stdout
    assert "1 skipped" in result.stdout
    assert "KUBEBUILDER_ASSETS is not set" in result.stdout


@pytest.mark.integration
def test_missing_component_fails_under_ci(tmp_path: Path) -> None:
    result = _run(tmp_path, ci=True)
    assert result.returncode != 0
    assert "skipped" not in result.stdout
    assert "CI=true and a test-environment component is missing" in result.stdout

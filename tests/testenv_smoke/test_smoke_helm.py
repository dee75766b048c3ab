"""Helm is the real release and renders against the real API server's version."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

pytestmark = [pytest.mark.helm, pytest.mark.integration]

CHART = {
    "Chart.yaml": "apiVersion: v2\nname: smoke\nversion: 0.1.0\nkubeVersion: '>=1.33.0-0'\n",
    "templates/cm.yaml": (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: smoke\n"
        "data:\n  kube: {{ .Capabilities.KubeVersion.Version | quote }}\n"
    ),
}


def _chart(tmp_path: Path) -> Path:
    for name, text in CHART.items():
        (tmp_path / "smoke" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "smoke" / name).write_text(text)
    return tmp_path / "smoke"


def _helm(helm_bin: Path, *args: str) -> str:
    result = subprocess.run([str(helm_bin), *args], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_helm_reports_real_version(helm_bin) -> None:
    version = _helm(helm_bin, "version", "--short").strip()
    assert re.match(r"v[34]\.\d+\.\d+\+g?", version) or re.fullmatch(r"v[34]\.\d+\.\d+", version)
    assert version.split("+")[0] in str(helm_bin)  # the cache dir is keyed by the version


def test_template_renders_against_server_version(helm_bin, kube, tmp_path) -> None:
    chart = _chart(tmp_path)
    offline = _helm(helm_bin, "template", "s", str(chart), "--kube-version", kube.version)
    assert f'kube: "{kube.version}"' in offline
    online = _helm(
        helm_bin, "template", "s", str(chart), "--validate", "--kubeconfig", str(kube.kubeconfig)
    )
    assert f'kube: "{kube.version}"' in online


def test_kube_version_constraint_is_checked(helm_bin, tmp_path) -> None:
    chart = _chart(tmp_path)
    result = subprocess.run(
        [str(helm_bin), "template", "s", str(chart), "--kube-version", "v1.20.0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "kubeVersion" in result.stderr

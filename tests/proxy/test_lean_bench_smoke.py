"""The benchmark harness runs end to end (``python -m bench --smoke``).

This is not a benchmark: no figure is asserted, only that every contender
started, answered authenticated requests, and that the table and JSON were
written with a row per contender.  Speed is measured by ``make bench``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def _missing() -> list[str]:
    return [
        tool
        for tool in ("wrk", "nginx")
        if not (shutil.which(tool) or Path(f"/usr/sbin/{tool}").exists())
    ]


def test_bench_smoke_runs_every_contender(tmp_path: Path) -> None:
    missing = _missing()
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"benchmark tools missing: {missing} (run bench/setup.sh)")
        pytest.skip(f"benchmark tools missing: {missing} (run bench/setup.sh)")
    out = tmp_path / "results"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--smoke",
            "--no-setup",
            "--workers",
            "2",
            "--out",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    result = json.loads((out / "latest.json").read_text())
    names = set(result["contenders"])
    assert {"direct", "nginx", "authgate-aiohttp", "authgate-lean", "authgate-lean-x2"} <= names
    if os.environ.get("CI") == "true" or os.environ.get("AUTHGATE_OAUTH2_PROXY"):
        assert "oauth2-proxy" in names
    for name, figures in result["contenders"].items():
        assert figures["rps"] > 0, name
        assert figures["rss_mib"] > 0, name
    table = (out / "latest.md").read_text()
    for name in names:
        assert f"| {name} |" in table

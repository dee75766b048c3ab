"""A short, bounded run of the atheris target, so the fuzz harness itself
cannot rot.  The long run is ``make fuzz`` (``FUZZ_SECONDS``, default 300)."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

TARGET = Path(__file__).with_name("fuzz_targets.py")


def test_atheris_target_runs_clean_for_ten_seconds(tmp_path: Path) -> None:
    try:
        import atheris  # noqa: F401
    except ImportError:
        if os.environ.get("CI") == "true" and platform.machine() == "x86_64":
            raise
        pytest.skip("atheris is not installed (it is only built for x86_64)")
    proc = subprocess.run(
        [
            sys.executable,
            str(TARGET),
            "-max_total_time=10",
            "-runs=200000",
            "-seed=1",
            f"-artifact_prefix={tmp_path}/",
            "-print_final_stats=1",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
    )
    out = proc.stdout + proc.stderr
    print(out[-3000:])
    assert proc.returncode == 0, f"fuzz target failed (rc={proc.returncode}):\n{out[-5000:]}"
    assert "Done" in out, "libFuzzer did not finish its bounded run"
    runs = [line for line in out.splitlines() if line.startswith("stat::number_of_executed_units")]
    assert runs and int(runs[0].split(":")[-1]) > 100, f"too few executions: {runs}"
    assert not list(tmp_path.glob("crash-*")), "libFuzzer saved a crash input"

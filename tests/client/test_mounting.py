"""``auth_group`` mounted into another CLI, as a platform would (``nemo auth ...``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from .client_harness import clean_env

PLATFORM_CLI = """
import click
from authgate.client.cli import auth_group

@click.group()
def nemo():
    "The platform's own CLI."

nemo.add_command(auth_group, name="auth")
nemo(prog_name="nemo")
"""


def run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", PLATFORM_CLI, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=clean_env({"AUTHGATE_CONFIG": str(tmp_path / "c.yaml")}),
    )


def test_group_mounts_and_hints_name_the_platform_command(tmp_path: Path) -> None:
    listing = run(tmp_path, "auth", "--help")
    assert listing.returncode == 0
    for name in ("login", "status", "token", "refresh", "logout", "config"):
        assert f"  {name}" in listing.stdout
    status = run(tmp_path, "auth", "status")
    assert status.returncode == 4
    assert "run: nemo auth login --base-url URL" in status.stderr
    assert "Traceback" not in status.stderr
    view = run(tmp_path, "auth", "config", "current-context")
    assert view.returncode == 4 and "nemo auth login" in view.stderr


def test_top_level_authgate_mounts_every_command_flat(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "authgate", "status"],
        capture_output=True,
        text=True,
        timeout=60,
        env=clean_env({"AUTHGATE_CONFIG": str(tmp_path / "c.yaml")}),
    )
    assert result.returncode == 4 and "authgate login --base-url URL" in result.stderr

"""``authgate quickstart`` end to end: the real command, curl-equivalent requests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from .proxy_harness import ROOT, ServerProcess, free_port, wait_for

pytestmark = pytest.mark.integration

AUTHGATE = str(Path(sys.executable).parent / "authgate")


@pytest.fixture
def quickstart(tmp_path: Path):  # type: ignore[no-untyped-def]
    port = free_port()
    proc = ServerProcess(
        [AUTHGATE, "quickstart", "--port", str(port)], tmp_path / "quickstart.log"
    ).start()
    try:
        wait_for(f"http://127.0.0.1:{port}/apis/auth/discovery", proc=proc.proc, timeout=30)
        yield port, proc
    finally:
        proc.stop()
        if proc.proc is not None and proc.proc.returncode not in (0, None):
            print(proc.log())


async def test_quickstart_with_and_without_token(quickstart) -> None:  # type: ignore[no-untyped-def]
    port, proc = quickstart
    base = f"http://127.0.0.1:{port}"
    minted = subprocess.run(
        [
            sys.executable,
            "-c",
            "from authgate.core.quickstart import mint_unsigned_token;"
            "print(mint_unsigned_token('you@example.com'))",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout.strip()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as s:
        async with s.get(f"{base}/hello") as r:
            assert r.status == 401
            assert "WWW-Authenticate" in r.headers
        spoofing = {"Authorization": f"Bearer {minted}", "X-NMP-Principal-Id": "admin"}
        async with s.get(f"{base}/hello", headers=spoofing) as r:
            assert r.status == 200
            echo = await r.json()
        async with s.get(f"{base}/apis/auth/discovery") as r:
            doc = await r.json()
    seen = {k.lower(): v for k, v in echo["headers"]}
    assert seen["x-nmp-principal-email"] == "you@example.com"
    assert seen["x-nmp-principal-id"] == "you@example.com"
    assert doc.get("quickstart") is True
    out = proc.log()
    assert "curl" in out and "--unsigned-token --email" in out
    assert minted not in out


def test_quickstart_refuses_non_loopback(tmp_path: Path) -> None:
    result = subprocess.run(
        [AUTHGATE, "quickstart", "--port", str(free_port()), "--host", "0.0.0.0"],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
        env=dict(os.environ),
    )
    assert result.returncode == 2
    assert "--force-non-loopback" in result.stderr


def test_proxy_reports_every_config_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        json.dumps(
            {
                "apiVersion": "authgate.io/v1alpha1",
                "kind": "ProxyConfig",
                "upstream": {"url": "not a url"},
                "authorization": {"rules": [{"path_prefix": "/a/", "read_scopes": []}]},
                "limits": {"max_in_flight": -1},
            }
        )
    )
    result = subprocess.run(
        [AUTHGATE, "proxy", "--config", str(bad)], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 2
    for path in (
        "upstream.url",
        "authorization.rules[0].read_scopes",
        "limits.max_in_flight",
        "oidc.issuer",
    ):
        assert path in result.stderr, result.stderr

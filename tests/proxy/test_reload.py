"""Hot reload: valid changes apply, invalid ones keep the old config, and the
ConfigMap-style ``..data`` symlink swap is noticed."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import aiohttp
import pytest
import yaml

from .proxy_harness import ProxyProcess, deep_merge, metric_value

pytestmark = pytest.mark.integration

OPEN_PATHS = {
    "authorization": {"public_paths": ["/apis/auth/discovery", "/healthz", "/readyz", "/open/"]}
}


async def _status(url: str) -> int:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as s:
        async with s.get(url) as r:
            return r.status


async def _wait_status(url: str, want: int, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    got = 0
    while time.monotonic() < deadline:
        got = await _status(url)
        if got == want:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{url}: still {got}, expected {want}")


async def _wait_metric(proxy: ProxyProcess, result: str, at_least: float) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if (
            metric_value(proxy.metrics(), "authgate_config_reloads_total", result=result)
            >= at_least
        ):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"config_reloads_total{{result={result}}} never reached {at_least}")


async def test_valid_change_applies_and_invalid_keeps_old(proxy: ProxyProcess) -> None:
    assert await _status(f"{proxy.url}/open/thing") == 401
    # Keep one connection open across the reload: it must not be dropped.
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as s:
        async with s.get(f"{proxy.url}/open/thing") as r:
            assert r.status == 401
        opened = deep_merge(proxy.document, OPEN_PATHS)
        proxy.write_config(opened)
        await _wait_status(f"{proxy.url}/open/thing", 200)
        await _wait_metric(proxy, "success", 1)
        async with s.get(f"{proxy.url}/open/thing") as r:  # same pooled connection
            assert r.status == 200

    # An invalid document (every error reported) keeps the running config.
    broken = deep_merge(opened, {"authorization": {"read_scopes": []}, "upstream": {"url": "nope"}})
    proxy.write_config(broken)
    await _wait_metric(proxy, "invalid", 1)
    assert await _status(f"{proxy.url}/open/thing") == 200
    assert await _status(f"{proxy.url}/apis/x") == 401
    log = proxy.log()
    assert "config reload rejected" in log and "upstream.url" in log

    proxy.config_path.write_text("::: not yaml [")
    await _wait_metric(proxy, "invalid", 2)
    assert await _status(f"{proxy.url}/open/thing") == 200


async def test_configmap_symlink_swap(proxy_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    proxy = proxy_factory()
    # Re-create the proxy's config as a kubelet ConfigMap volume would:
    #   config.yaml -> ..data/config.yaml, ..data -> ..2026_v1
    mount = tmp_path / "mount"
    v1 = mount / "..v1"
    v1.mkdir(parents=True)
    (v1 / "config.yaml").write_text(yaml.safe_dump(proxy.document))
    os.symlink("..v1", mount / "..data")
    os.symlink("..data/config.yaml", mount / "config.yaml")
    proxy.stop()
    from .proxy_harness import ProxyProcess as PP

    watched = PP(proxy.document, proxy.workdir)
    watched.process = None
    proxy.workdir.joinpath("config.yaml").unlink()
    os.symlink(mount / "config.yaml", proxy.workdir / "config.yaml")
    watched.start()
    try:
        assert await _status(f"{watched.url}/open/x") == 401
        v2 = mount / "..v2"
        v2.mkdir()
        doc = deep_merge(proxy.document, OPEN_PATHS)
        (v2 / "config.yaml").write_text(yaml.safe_dump(doc))
        tmp_link = mount / "..data_tmp"
        os.symlink("..v2", tmp_link)
        os.replace(tmp_link, mount / "..data")  # the atomic swap
        await _wait_status(f"{watched.url}/open/x", 200)
    finally:
        watched.stop()

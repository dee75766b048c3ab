"""Limits and process model: load shedding and SO_REUSEPORT workers."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import aiohttp
import pytest

from .proxy_harness import FakeIdP, http_get

pytestmark = pytest.mark.integration


async def test_max_in_flight_sheds_with_503(
    proxy_factory, fake_idp: FakeIdP, misbehaving_upstream: str
) -> None:  # type: ignore[no-untyped-def]
    proxy = proxy_factory(
        upstream={"url": misbehaving_upstream, "read_timeout_seconds": 30},
        limits={"max_in_flight": 1},
    )
    auth = {"Authorization": f"Bearer {fake_idp.mint()}"}
    before = json.loads(http_get(f"{misbehaving_upstream}/stats")[1])["hang_started"]
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as s:
        hanging = asyncio.ensure_future(s.get(f"{proxy.url}/hang", headers=auth))
        deadline = time.monotonic() + 10
        while json.loads(http_get(f"{misbehaving_upstream}/stats")[1])["hang_started"] == before:
            assert time.monotonic() < deadline, "the first request never reached the upstream"
            await asyncio.sleep(0.05)
        async with s.get(f"{proxy.url}/hang", headers=auth) as r:
            assert r.status == 503
            assert r.headers.get("Retry-After") == "1"
            assert (await r.json())["reason"] == "overloaded"
        hanging.cancel()


async def test_workers_share_the_port(proxy_factory, fake_idp: FakeIdP) -> None:  # type: ignore[no-untyped-def]
    proxy = proxy_factory(server={"workers": 2})
    auth = {"Authorization": f"Bearer {fake_idp.mint()}"}
    pids: set[int] = set()
    for line in proxy.log().splitlines():
        if '"msg":"listening"' in line:
            pids.add(json.loads(line)["pid"])
    deadline = time.monotonic() + 20
    while len(pids) < 2 and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        pids = {json.loads(x)["pid"] for x in proxy.log().splitlines() if '"msg":"listening"' in x}
    assert len(pids) == 2, proxy.log()[-3000:]
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as s:
        for _ in range(20):
            # A new connection each time, so the kernel can pick either worker.
            async with s.get(f"{proxy.url}/apis/w", headers={**auth, "Connection": "close"}) as r:
                assert r.status == 200
    assert proxy.process is not None
    proxy.stop()
    assert proxy.process.proc is not None and proxy.process.proc.returncode == 0
    for pid in pids:
        assert (
            not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()
        )

"""SIGTERM drain: readiness fails at once, in-flight work finishes, websockets
get 1001, and the process exits cleanly."""

from __future__ import annotations

import asyncio
import signal
import time

import aiohttp
import pytest

from .proxy_harness import FakeIdP, ProxyProcess, http_get

pytestmark = pytest.mark.integration


async def test_sigterm_drains_in_flight_and_closes_websockets(
    proxy: ProxyProcess, fake_idp: FakeIdP
) -> None:
    assert proxy.process is not None
    auth = {"Authorization": f"Bearer {fake_idp.mint()}"}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as s:
        ws = await s.ws_connect(f"{proxy.url}/ws", headers=auth)
        sse = await s.get(f"{proxy.url}/sse?count=6&interval=0.3", headers=auth)
        assert sse.status == 200
        first = await sse.content.readline()
        assert first.startswith(b"id: 0")

        proxy.process.signal(signal.SIGTERM)
        # Readiness flips before anything else happens.
        deadline = time.monotonic() + 5
        while http_get(f"{proxy.admin_url}/readyz")[0] != 503:
            assert time.monotonic() < deadline, "readyz never failed"
            await asyncio.sleep(0.02)

        msg = await ws.receive(timeout=10)
        assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        assert ws.close_code == 1001

        # The in-flight stream still completes: every event arrives.
        rest = await sse.content.read()
        assert rest.count(b"data: ") == 6  # the first line read was only "id: 0"
        sse.release()
    assert proxy.process.wait(timeout=15) == 0
    log = proxy.log()
    assert "draining" in log and "stopped" in log

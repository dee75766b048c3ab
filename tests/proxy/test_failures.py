"""Gateway failures: refused → 502, hang → 504, client gone → upstream cancelled."""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp
import pytest

from .proxy_harness import FakeIdP, free_port, http_get

pytestmark = pytest.mark.integration


async def test_upstream_refused_is_502(proxy_factory, fake_idp: FakeIdP) -> None:  # type: ignore[no-untyped-def]
    proxy = proxy_factory(upstream={"url": f"http://127.0.0.1:{free_port()}"})
    auth = {"Authorization": f"Bearer {fake_idp.mint()}"}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as s:
        async with s.get(f"{proxy.url}/apis/x", headers=auth) as r:
            assert r.status == 502
            assert (await r.json())["reason"] == "upstream_unavailable"


async def test_upstream_hang_is_504(
    proxy_factory, fake_idp: FakeIdP, misbehaving_upstream: str
) -> None:  # type: ignore[no-untyped-def]
    proxy = proxy_factory(upstream={"url": misbehaving_upstream, "read_timeout_seconds": 1})
    auth = {"Authorization": f"Bearer {fake_idp.mint()}"}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as s:
        async with s.get(f"{proxy.url}/hang", headers=auth) as r:
            assert r.status == 504
            assert (await r.json())["reason"] == "upstream_timeout"


def _stats(url: str) -> dict[str, int]:
    status, body = http_get(f"{url}/stats")
    assert status == 200
    return dict(json.loads(body))


async def test_client_disconnect_cancels_upstream(
    proxy_factory, fake_idp: FakeIdP, misbehaving_upstream: str
) -> None:  # type: ignore[no-untyped-def]
    proxy = proxy_factory(upstream={"url": misbehaving_upstream, "read_timeout_seconds": 120})
    before = _stats(misbehaving_upstream)
    auth = {"Authorization": f"Bearer {fake_idp.mint()}"}
    _reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    writer.write(
        f"GET /hang HTTP/1.1\r\nHost: x\r\nAuthorization: {auth['Authorization']}\r\n\r\n".encode()
    )
    await writer.drain()
    deadline = time.monotonic() + 10
    while _stats(misbehaving_upstream)["hang_started"] == before["hang_started"]:
        assert time.monotonic() < deadline, "the request never reached the upstream"
        await asyncio.sleep(0.05)
    writer.close()  # the client goes away
    deadline = time.monotonic() + 10
    while _stats(misbehaving_upstream)["hang_cancelled"] == before["hang_cancelled"]:
        assert time.monotonic() < deadline, "the upstream request was not cancelled"
        await asyncio.sleep(0.05)

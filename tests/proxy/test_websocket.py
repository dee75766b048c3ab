"""WebSocket relaying: auth before the upgrade, frames both ways, close codes."""

from __future__ import annotations

import aiohttp
import pytest

from .proxy_harness import FakeIdP, ProxyProcess

pytestmark = pytest.mark.integration

TIMEOUT = aiohttp.ClientTimeout(total=20)


async def test_frames_both_ways(proxy: ProxyProcess, fake_idp: FakeIdP) -> None:
    auth = {"Authorization": f"Bearer {fake_idp.mint()}"}
    async with aiohttp.ClientSession(timeout=TIMEOUT) as s:
        async with s.ws_connect(
            f"{proxy.url}/ws", headers=auth, protocols=("echo",), autoping=False
        ) as ws:
            assert ws.protocol == "echo"
            await ws.send_str("hello")
            msg = await ws.receive(timeout=5)
            assert msg.type is aiohttp.WSMsgType.TEXT and msg.data == "hello"
            payload = bytes(range(256)) * 300
            await ws.send_bytes(payload)
            msg = await ws.receive(timeout=5)
            assert msg.type is aiohttp.WSMsgType.BINARY and msg.data == payload
            await ws.ping(b"are-you-there")
            msg = await ws.receive(timeout=5)
            assert msg.type is aiohttp.WSMsgType.PONG and msg.data == b"are-you-there"


async def test_upstream_close_code_passes_through(proxy: ProxyProcess, fake_idp: FakeIdP) -> None:
    auth = {"Authorization": f"Bearer {fake_idp.mint()}"}
    async with aiohttp.ClientSession(timeout=TIMEOUT) as s:
        async with s.ws_connect(f"{proxy.url}/ws", headers=auth) as ws:
            await ws.send_str("close:4001")
            msg = await ws.receive(timeout=5)
            assert msg.type is aiohttp.WSMsgType.CLOSE
            assert msg.data == 4001
    assert ws.close_code == 4001


async def test_no_token_rejected_before_upgrade(proxy: ProxyProcess) -> None:
    async with aiohttp.ClientSession(timeout=TIMEOUT) as s:
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await s.ws_connect(f"{proxy.url}/ws")
    assert info.value.status == 401


async def test_websocket_needs_read_scope(proxy: ProxyProcess, fake_idp: FakeIdP) -> None:
    token = fake_idp.mint(scope="files:read")
    async with aiohttp.ClientSession(timeout=TIMEOUT) as s:
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await s.ws_connect(f"{proxy.url}/ws", headers={"Authorization": f"Bearer {token}"})
    assert info.value.status == 403


async def test_client_close_code_reaches_upstream(
    proxy_factory, fake_idp: FakeIdP, misbehaving_upstream: str
) -> None:  # type: ignore[no-untyped-def]
    import asyncio
    import json
    import time

    from .proxy_harness import http_get

    proxy = proxy_factory(upstream={"url": misbehaving_upstream})
    auth = {"Authorization": f"Bearer {fake_idp.mint()}"}
    async with aiohttp.ClientSession(timeout=TIMEOUT) as s:
        async with s.ws_connect(f"{proxy.url}/ws-record", headers=auth) as ws:
            await ws.close(code=4002, message=b"bye")
    deadline = time.monotonic() + 10
    code = None
    while time.monotonic() < deadline:
        code = json.loads(http_get(f"{misbehaving_upstream}/stats")[1])["ws_close_code"]
        if code == 4002:
            break
        await asyncio.sleep(0.05)
    assert code == 4002

"""WebSocket policy (THREAT_MODEL.md, "WebSocket policy").

A websocket is authorised once, at the upgrade.  A session whose token
expires mid-way is allowed to continue: frames carry no credentials and the
proxy does not track ``exp`` after the handshake.  This test pins that
behaviour, so a change to it is a deliberate, documented decision.
"""

from __future__ import annotations

import asyncio
import time

import pytest
import websockets

from .cases import ID
from .conftest import HostileEnv

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


async def test_session_outlives_token_exp(hostile_env: HostileEnv) -> None:
    env = hostile_env
    ttl = 3
    token = env.ctx.token("ws-exp-user", ttl=ttl)
    env.secrets.append(token)
    expires_at = time.time() + ttl
    before = env.upstream.count()
    uri = f"ws://127.0.0.1:{env.proxy.port}/ws/session"
    async with websockets.connect(
        uri, additional_headers={"Authorization": f"Bearer {token}"}, open_timeout=10
    ) as ws:
        await ws.send("before-exp")
        assert await asyncio.wait_for(ws.recv(), 10) == "echo:before-exp"
        upgrade = env.upstream.seen[before]
        assert upgrade.values(ID) == ["ws-exp-user"]

        # leeway is 1 s in the hostile config: wait until the token is unambiguously dead
        await asyncio.sleep(max(0.0, expires_at + 2.5 - time.time()))
        fresh = env.ctx.token("probe")
        status = await asyncio.to_thread(_status_with, env.proxy.port, token)
        assert status == 401, "the token should be expired by now (control)"
        del fresh

        sent = received = 0
        for i in range(5):
            await ws.send(f"after-exp-{i}")
            sent += 1
            assert await asyncio.wait_for(ws.recv(), 10) == f"echo:after-exp-{i}"
            received += 1
        print(f"websocket after exp: sent={sent} echoed={received}")
        assert received == sent == 5

        await ws.send("close:4000")
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4000, (
            "the upstream's close code must be passed on"
        )


def _status_with(port: int, token: str) -> int:
    from tests.support.rawhttp import request

    return request(port, "GET", "/apis/things", [("Authorization", f"Bearer {token}")]).status

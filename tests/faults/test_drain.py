"""Graceful drain: SIGTERM during steady load, long requests and websockets.

Expected: readiness fails at once (``/readyz`` → 503 while the process still
runs), every request that was in flight when the signal arrived completes
successfully within ``limits.drain_timeout_seconds``, open websockets are
closed with 1001 (going away, RFC 6455 §7.4.1), and the process exits 0.
Requests started *after* the signal may be refused (the listener is closed)
but never get a 5xx.
"""

from __future__ import annotations

import asyncio
import signal
import time

import aiohttp
import pytest
import websockets

from tests.hostile.servers import RecordingUpstream
from tests.support.idp import LocalIdP

from .conftest import StartProxy, local_token
from .load import LoadReport, one_request, run_load

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

DRAIN = 10
LONG_MS = 3000


async def _ws_session(url: str, token: str, closes: list[int | None], ready: asyncio.Event) -> None:
    async with websockets.connect(
        url, additional_headers={"Authorization": f"Bearer {token}"}, open_timeout=10
    ) as ws:
        await ws.send("hello")
        assert await asyncio.wait_for(ws.recv(), 10) == "echo:hello"
        ready.set()
        try:
            while True:
                await asyncio.wait_for(ws.recv(), DRAIN + 10)
        except websockets.ConnectionClosed as exc:
            closes.append(exc.rcvd.code if exc.rcvd is not None else None)
        except TimeoutError:
            closes.append(-1)


async def test_sigterm_drains(
    start_proxy: StartProxy, idp: LocalIdP, upstream: RecordingUpstream, engine: str
) -> None:
    proxy = start_proxy(idp.issuer, upstream.url, engine, limits={"drain_timeout_seconds": DRAIN})
    token = local_token(idp, ttl=3600)

    closes: list[int | None] = []
    ws_ready = [asyncio.Event() for _ in range(2)]
    ws_tasks = [
        asyncio.create_task(_ws_session(f"ws://127.0.0.1:{proxy.port}/ws/{i}", token, closes, ev))
        for i, ev in enumerate(ws_ready)
    ]
    await asyncio.wait_for(asyncio.gather(*(e.wait() for e in ws_ready)), 15)

    steady = LoadReport(f"{engine} drain: steady load")
    long = LoadReport(f"{engine} drain: long requests ({LONG_MS} ms)")
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    stop = asyncio.Event()
    load_task = asyncio.create_task(
        run_load(
            steady,
            f"{proxy.url}/apis/things",
            lambda: token,
            concurrency=6,
            duration=DRAIN + 5,
            max_requests=20_000,
            session=session,
            pause=0.01,
            stop=stop,
        )
    )
    long_tasks = [
        asyncio.create_task(
            one_request(
                session, f"{proxy.url}/slow?ms={LONG_MS}", token, timeout=DRAIN + 10, tag="long"
            )
        )
        for _ in range(5)
    ]
    await asyncio.sleep(1.0)  # long requests are now in flight upstream

    t_signal = time.monotonic()
    proxy.signal(signal.SIGTERM)
    ready_seen: list[tuple[float, int | None]] = []
    while proxy.proc is not None and proxy.proc.poll() is None and time.monotonic() - t_signal < 5:
        status = await asyncio.to_thread(proxy.admin_status, "/readyz")
        ready_seen.append((time.monotonic() - t_signal, status))
        if status == 503 or status is None:
            break
        await asyncio.sleep(0.01)

    for outcome in await asyncio.gather(*long_tasks):
        long.add(outcome)
    exit_code = await asyncio.to_thread(proxy.wait_exit, DRAIN + 15)
    t_exit = time.monotonic() - t_signal
    stop.set()
    await asyncio.wait_for(asyncio.gather(*ws_tasks, return_exceptions=True), 20)
    await load_task
    await session.close()

    in_flight = [o for o in steady.outcomes if o.started < t_signal - 0.05]
    after = [o for o in steady.outcomes if o.started >= t_signal - 0.05]
    steady.print()
    long.print()
    print(
        f"  in flight at SIGTERM (steady): {len(in_flight)}, failed: "
        f"{sum(1 for o in in_flight if o.status != 200)}; started after: {len(after)} "
        f"({dict(steady.reasons(after))})"
    )
    print(
        f"  readiness after SIGTERM: {ready_seen}; websocket close codes: {closes}; "
        f"exit code {exit_code} after {t_exit:.2f}s (drain_timeout_seconds={DRAIN})"
    )

    assert ready_seen and ready_seen[-1][1] == 503, f"readiness never failed: {ready_seen}"
    assert long.sent == 5 and long.succeeded == 5, long.summary()
    assert in_flight and all(o.status == 200 for o in in_flight), steady.reasons(in_flight)
    assert all(o.status < 500 for o in after), steady.reasons(after)
    assert sorted(c or 0 for c in closes) == [1001, 1001], (
        f"websockets must be closed with 1001, got {closes}"
    )
    assert exit_code == 0

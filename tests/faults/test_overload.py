"""Overload: far more concurrent connections than ``limits.max_in_flight``.

Expected: the proxy sheds the excess with 503 at once instead of queueing it
(no client ever times out), at most ``max_in_flight`` requests reach the
upstream concurrently, memory stays bounded (RSS sampled throughout), and
when the flood stops the proxy serves normally again.
"""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from tests.hostile.servers import RecordingUpstream
from tests.support.idp import LocalIdP

from .conftest import StartProxy, local_token
from .load import LoadReport, one_request, run_load

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

MAX_IN_FLIGHT = 20
FLOOD = 600
SLOW_MS = 1500


async def _sample_rss(proxy, samples: list[int], stop: asyncio.Event) -> None:  # type: ignore[no-untyped-def]
    while not stop.is_set():
        samples.append(proxy.rss_bytes())
        await asyncio.sleep(0.1)


async def test_overload_sheds_with_503(
    start_proxy: StartProxy, idp: LocalIdP, upstream: RecordingUpstream, engine: str
) -> None:
    proxy = start_proxy(idp.issuer, upstream.url, engine, limits={"max_in_flight": MAX_IN_FLIGHT})
    token = local_token(idp, ttl=3600)
    warm = LoadReport("warm-up")
    await run_load(
        warm,
        f"{proxy.url}/apis/things",
        lambda: token,
        concurrency=4,
        duration=1.5,
        max_requests=300,
    )
    assert warm.failed == 0, warm.summary()
    rss_before = proxy.rss_bytes()

    samples: list[int] = []
    stop = asyncio.Event()
    sampler = asyncio.create_task(_sample_rss(proxy, samples, stop))
    rounds: list[LoadReport] = []
    for rnd in range(2):
        report = LoadReport(
            f"{engine} overload round {rnd + 1}: {FLOOD} concurrent, max_in_flight={MAX_IN_FLIGHT}"
        )
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as s:
            outcomes = await asyncio.gather(
                *(
                    one_request(s, f"{proxy.url}/slow?ms={SLOW_MS}", token, timeout=30)
                    for _ in range(FLOOD)
                )
            )
        for o in outcomes:
            report.add(o)
        report.print()
        rounds.append(report)
    stop.set()
    await sampler
    await asyncio.sleep(1)
    rss_after = proxy.rss_bytes()

    after = LoadReport(f"{engine} after the flood")
    await run_load(
        after,
        f"{proxy.url}/apis/things",
        lambda: token,
        concurrency=4,
        duration=2,
        max_requests=400,
    )
    after.print()
    in_flight_now = proxy.metric_sum("authgate_in_flight_requests")
    mib = 1024 * 1024
    print(
        f"  RSS before={rss_before / mib:.1f} MiB peak={max(samples) / mib:.1f} MiB "
        f"after={rss_after / mib:.1f} MiB; in-flight gauge after: {in_flight_now:.0f}"
    )

    for report in rounds:
        statuses = {o.status for o in report.outcomes}
        assert statuses <= {200, 503}, report.reasons()
        assert report.succeeded >= 1
        assert report.succeeded <= MAX_IN_FLIGHT + 4, "more requests admitted than max_in_flight"
        assert report.failed >= FLOOD - MAX_IN_FLIGHT - 4, report.summary()
        sheds = [o.finished - o.started for o in report.outcomes if o.status == 503]
        print(
            f"  {report.name}: slowest 503 after {max(sheds):.2f}s "
            f"(queueing would take ~{FLOOD / MAX_IN_FLIGHT * SLOW_MS / 1000:.0f}s)"
        )
        # queued instead of shed, the last would wait ~FLOOD/MAX_IN_FLIGHT slow periods
        assert sheds and max(sheds) < 5 * SLOW_MS / 1000, "503s must not wait for a slot"
    assert max(samples) - rss_before < 128 * mib, "memory grows with the flood"
    assert after.failed == 0, after.summary()
    assert in_flight_now == 0

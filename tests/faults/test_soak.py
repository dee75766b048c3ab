"""Soak: moderate mixed load for a long time; memory and descriptors stay flat.

Expected: after warm-up, RSS grows by less than 10% and the number of open
file descriptors does not grow.

* ``test_soak_short`` runs in the default suite: 60 s per engine
  (``AUTHGATE_SOAK_SECONDS`` overrides).
* ``test_soak_long`` is the ten-minute version, marked ``soak`` and run only
  with ``AUTHGATE_SOAK=1``::

      AUTHGATE_SOAK=1 .venv/bin/python -m pytest tests/faults/test_soak.py -m soak -s
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time

import aiohttp
import pytest

from tests.hostile.servers import RecordingUpstream
from tests.proxy.proxy_harness import ProxyProcess
from tests.support.idp import LocalIdP

from .conftest import StartProxy, local_token
from .load import LoadReport, one_request

pytestmark = [pytest.mark.integration]

MIB = 1024 * 1024


async def _soak(proxy: ProxyProcess, idp: LocalIdP, seconds: float, label: str) -> None:
    tokens = [local_token(idp, sub=f"soak-{i}", ttl=int(seconds) + 600) for i in range(200)]
    bad = tokens[0][:-8] + "AAAAAAAA"
    report = LoadReport(label)
    samples: list[tuple[float, int, int]] = []  # (t, rss, fds)
    start = time.monotonic()
    deadline = start + seconds
    counter = [0]

    async def worker(session: aiohttp.ClientSession) -> None:
        while time.monotonic() < deadline:
            i = counter[0] = counter[0] + 1
            if i % 20 == 0:
                o = await one_request(session, f"{proxy.url}/apis/things", bad, tag="bad")
            elif i % 50 == 1:
                o = await one_request(
                    session, f"{proxy.url}/stream?chunks=5&ms=20", tokens[i % 200]
                )
            elif i % 25 == 2:
                o = await one_request(session, f"{proxy.url}/public/x", None, tag="public")
            else:
                o = await one_request(session, f"{proxy.url}/apis/things?i={i}", tokens[i % 200])
            report.add(o)
            await asyncio.sleep(0.005)

    async def sampler() -> None:
        while time.monotonic() < deadline:
            samples.append((time.monotonic() - start, proxy.rss_bytes(), proxy.fd_count()))
            await asyncio.sleep(2)

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=8)) as session:
        await asyncio.gather(sampler(), *(worker(session) for _ in range(4)))
    await asyncio.sleep(1)
    samples.append((time.monotonic() - start, proxy.rss_bytes(), proxy.fd_count()))

    warm_until = max(10.0, seconds * 0.25)
    warm = [s for s in samples if s[0] >= warm_until][:3]
    end = samples[-3:]
    rss_warm = statistics.median(s[1] for s in warm)
    rss_end = statistics.median(s[1] for s in end)
    fd_warm = statistics.median(s[2] for s in warm)
    fd_end = statistics.median(s[2] for s in end)
    growth = (rss_end - rss_warm) / rss_warm
    unexpected = {k: v for k, v in report.reasons().items() if not k.startswith("401 ")}
    report.print()
    print(
        f"  {seconds:.0f}s, {report.sent / seconds:.0f} req/s; RSS after warm-up "
        f"{rss_warm / MIB:.1f} MiB → end {rss_end / MIB:.1f} MiB ({growth:+.1%}); "
        f"fds {fd_warm:.0f} → {fd_end:.0f}; max RSS {max(s[1] for s in samples) / MIB:.1f} MiB"
    )
    assert report.sent > seconds * 10
    assert not unexpected, unexpected
    assert all(o.status == 401 for o in report.outcomes if o.tag == "bad")
    assert growth < 0.10, f"RSS grew {growth:.1%} after warm-up"
    assert fd_end <= fd_warm + 2, f"file descriptors grew {fd_warm} → {fd_end}"


@pytest.mark.timeout(600)
async def test_soak_short(
    start_proxy: StartProxy, idp: LocalIdP, upstream: RecordingUpstream, engine: str
) -> None:
    seconds = float(os.environ.get("AUTHGATE_SOAK_SECONDS", "60"))
    proxy = start_proxy(idp.issuer, upstream.url, engine)
    await _soak(proxy, idp, seconds, f"{engine} soak {seconds:.0f}s")


@pytest.mark.soak
@pytest.mark.timeout(1200)
async def test_soak_long(
    start_proxy: StartProxy, idp: LocalIdP, upstream: RecordingUpstream, engine: str
) -> None:
    proxy = start_proxy(idp.issuer, upstream.url, engine)
    await _soak(proxy, idp, 600, f"{engine} soak 600s")

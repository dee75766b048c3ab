"""Upstream faults: refused, hanging, reset mid-body, slow.

Expected: 502 when the upstream refuses, 504 when it does not answer within
``upstream.read_timeout_seconds``, a truncated (never hanging) response when
it resets mid-body, 200 when it is slow but within the timeout — while the
proxy keeps serving everyone else, and without leaking connections (the
proxy's socket count, from ``/proc/<pid>/fd``, does not grow from one fault
storm to the next).
"""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from tests.hostile.servers import RecordingUpstream
from tests.proxy.proxy_harness import ProxyProcess
from tests.support.idp import LocalIdP
from tests.support.ports import free_port

from .conftest import StartProxy, local_token
from .load import LoadReport, one_request, run_load

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

READ_TIMEOUT = 2


async def _storm(proxy: ProxyProcess, token: str, report: LoadReport) -> None:
    """One round: hang + reset + slow-ok + slow-timeout, concurrently with normal traffic."""
    base = proxy.url
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as s:
        faulty = [
            *(
                one_request(s, f"{base}/hang", token, tag="hang", timeout=READ_TIMEOUT + 10)
                for _ in range(10)
            ),
            *(one_request(s, f"{base}/reset", token, tag="reset") for _ in range(10)),
            *(one_request(s, f"{base}/slow?ms=300", token, tag="slow-ok") for _ in range(10)),
            *(
                one_request(
                    s,
                    f"{base}/slow?ms={READ_TIMEOUT * 1000 + 1500}",
                    token,
                    tag="slow-timeout",
                    timeout=READ_TIMEOUT + 10,
                )
                for _ in range(5)
            ),
        ]
        normal = LoadReport("normal")
        results, _ = await asyncio.gather(
            asyncio.gather(*faulty),
            run_load(
                normal,
                f"{base}/apis/things",
                lambda: token,
                concurrency=4,
                duration=READ_TIMEOUT + 1,
                max_requests=2000,
                session=s,
            ),
        )
    for outcome in results:
        report.add(outcome)
    for outcome in normal.outcomes:
        report.add(outcome)


def _by_tag(report: LoadReport, tag: str) -> list[str]:
    return [f"{o.status} {o.reason}" for o in report.outcomes if o.tag == tag]


async def test_upstream_faults(
    start_proxy: StartProxy, idp: LocalIdP, upstream: RecordingUpstream, engine: str
) -> None:
    proxy = start_proxy(
        idp.issuer,
        upstream.url,
        engine,
        upstream={"read_timeout_seconds": READ_TIMEOUT, "connect_timeout_seconds": 1},
    )
    token = local_token(idp)

    # warm the pool to its working size, then take the baseline
    warm = LoadReport("warm-up")
    await run_load(
        warm, f"{proxy.url}/apis/things", lambda: token, concurrency=4, duration=2, max_requests=400
    )
    assert warm.failed == 0, warm.summary()
    baseline = proxy.socket_count()

    rounds = []
    for i in range(2):
        report = LoadReport(f"{engine} upstream faults round {i + 1}")
        seen_before = upstream.count()
        await _storm(proxy, token, report)
        seen = upstream.seen[seen_before:]
        hang_seen = sum(1 for r in seen if r.target == "/hang")
        timeout_seen = sum(
            1 for r in seen if r.target.startswith(f"/slow?ms={READ_TIMEOUT * 1000 + 1500}")
        )
        report.print()
        hang, reset = _by_tag(report, "hang"), _by_tag(report, "reset")
        slow_ok, slow_to = _by_tag(report, "slow-ok"), _by_tag(report, "slow-timeout")
        normal = [o for o in report.outcomes if o.tag == ""]
        print(
            f"  hang: {sorted(set(hang))}  reset: {sorted(set(reset))}  "
            f"slow-ok: {sorted(set(slow_ok))}  slow-timeout: {sorted(set(slow_to))}  "
            f"normal: sent={len(normal)} ok={sum(o.status == 200 for o in normal)}"
        )
        hang_durations = [o.finished - o.started for o in report.outcomes if o.tag == "hang"]
        print(
            f"  hang answered after {min(hang_durations):.2f}-{max(hang_durations):.2f}s "
            f"(read_timeout_seconds={READ_TIMEOUT})"
        )
        print(
            f"  upstream received /hang {hang_seen}x for 10 requests, "
            f"the too-slow path {timeout_seen}x for 5"
        )
        assert all(h.startswith("504 ") for h in hang), hang
        assert hang_seen == 10 and timeout_seen == 5, (
            "a request that timed out upstream was sent to the upstream again (retried)"
        )
        assert max(hang_durations) < READ_TIMEOUT + 1.5, (
            f"504 came after {max(hang_durations):.2f}s, read_timeout_seconds={READ_TIMEOUT}"
        )
        assert all(s.startswith("504 ") for s in slow_to), slow_to
        assert all(s.startswith("200 ") for s in slow_ok), slow_ok
        # reset mid-body: the 200 head was already sent, so the client must see a
        # truncated body (a client error), never a hang or a 5xx after the fact
        assert all(r.split()[1] != "client_timeout" for r in reset), reset
        assert all(r.startswith(("0 ", "502 ")) for r in reset), reset
        assert normal and all(o.status == 200 for o in normal), report.reasons(normal)
        await asyncio.sleep(READ_TIMEOUT + 1)  # let the proxy drop what it should
        rounds.append(proxy.socket_count())
    print(
        f"  proxy sockets: baseline={baseline} after round 1={rounds[0]} after round 2={rounds[1]}"
    )
    assert rounds[1] <= rounds[0] + 2, "sockets grow with every fault storm (leak)"
    # idle keep-alive connections may stay pooled (up to the storm's 39 concurrent
    # requests), but never more than that
    assert rounds[1] <= baseline + 39 + 2, "more sockets than the storm ever needed at once"

    # still serving
    after = LoadReport("after")
    await run_load(
        after,
        f"{proxy.url}/apis/things",
        lambda: token,
        concurrency=2,
        duration=1,
        max_requests=100,
    )
    assert after.failed == 0, after.summary()


async def test_upstream_refuses(start_proxy: StartProxy, idp: LocalIdP, engine: str) -> None:
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens here
    proxy = start_proxy(idp.issuer, dead, engine, upstream={"connect_timeout_seconds": 1})
    token = local_token(idp)

    async def refusals(label: str) -> LoadReport:
        """One round against the dead upstream: the same load both times."""
        report = LoadReport(label)
        await run_load(
            report,
            f"{proxy.url}/apis/things",
            lambda: token,
            concurrency=4,
            duration=2,
            max_requests=200,
            timeout=10,
        )
        report.print()
        return report

    report = await refusals(f"{engine} upstream refuses")
    assert report.sent > 0
    assert report.succeeded == 0
    assert all(o.status == 502 for o in report.outcomes), report.reasons()
    first = proxy.socket_count()
    report2 = await refusals(f"{engine} upstream refuses, again")
    await asyncio.sleep(0.5)
    second = proxy.socket_count()
    print(
        f"  proxy sockets after {report.sent} refusals: {first}; "
        f"after {report2.sent} more: {second}"
    )
    assert second <= first + 2, "refused upstream connections leak sockets"

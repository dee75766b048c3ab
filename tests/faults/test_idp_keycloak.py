"""IdP faults against the real Keycloak: key rotation under load, and outage.

* **Rotation.** ``keycloak.rotate_keys()`` while fresh tokens flow: zero 401s
  (a new ``kid`` triggers one JWKS refetch), and a token signed by the
  retired key keeps working while Keycloak still publishes that key.
* **Outage.** Keycloak stopped under load: valid tokens keep working on the
  cached keys through ``keys.stale_max_age_seconds``, then every request fails
  closed with 401 ``keys_stale``.  A proxy *started* during the outage stays
  not-ready and forwards nothing.  When Keycloak is back both recover without
  a restart.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import jwt
import pytest

from tests.hostile.servers import RecordingUpstream
from tests.proxy.proxy_harness import ProxyProcess
from tests.support.rawhttp import request

from .conftest import StartProxy
from .load import LoadReport, one_request

pytestmark = [pytest.mark.integration, pytest.mark.keycloak, pytest.mark.timeout(600)]

SCOPE = "openid platform:read platform:write"


def _kc_overrides(keycloak: Any, **keys: Any) -> dict[str, Any]:
    return {
        "oidc": {
            "issuer": keycloak.issuer,
            "client_id": keycloak.cli_client_id,
            "audience": [keycloak.audience],
        },
        "keys": {"ca_file": str(keycloak.ca_file), "fetch_timeout_seconds": 2, **keys},
    }


def _fresh(keycloak: Any) -> str:
    return str(keycloak.password_token("alice", scope=SCOPE)["access_token"])


def _kid(token: str) -> str:
    return str(jwt.get_unverified_header(token).get("kid"))


async def test_key_rotation_under_load(
    start_proxy: StartProxy, keycloak: Any, upstream: RecordingUpstream
) -> None:
    proxy = start_proxy(
        keycloak.issuer,
        upstream.url,
        "aiohttp",
        **_kc_overrides(keycloak, unknown_kid_cooldown_seconds=5),
    )
    old_token = await asyncio.to_thread(_fresh, keycloak)
    old_kid = _kid(old_token)
    current = [old_token]
    report = LoadReport("key rotation under load (Keycloak)")
    deadline = time.monotonic() + 14
    fetched = [0]

    async def refresher() -> None:
        while time.monotonic() < deadline:
            current[0] = await asyncio.to_thread(_fresh, keycloak)
            fetched[0] += 1
            await asyncio.sleep(0.3)

    async def worker(session: aiohttp.ClientSession) -> None:
        while time.monotonic() < deadline:
            token = current[0]
            report.add(
                await one_request(session, f"{proxy.url}/apis/things", token, tag=_kid(token))
            )
            await asyncio.sleep(0.005)

    async def rotate() -> str:
        await asyncio.sleep(3)
        return await asyncio.to_thread(keycloak.rotate_keys)

    async with aiohttp.ClientSession() as session:
        results = await asyncio.gather(rotate(), refresher(), *(worker(session) for _ in range(4)))
    new_kid = str(results[0])

    by_kid = {kid: sum(1 for o in report.outcomes if o.tag == kid) for kid in (old_kid, new_kid)}
    old_after = await asyncio.to_thread(
        request, proxy.port, "GET", "/apis/things", [("Authorization", f"Bearer {old_token}")]
    )
    report.print()
    print(
        f"  tokens fetched during the run: {fetched[0]}; requests by kid: old {old_kid[:8]}…="
        f"{by_kid[old_kid]}, new {new_kid[:8]}…={by_kid[new_kid]}; "
        f"token signed by the retired key after rotation → {old_after.status}"
    )
    assert new_kid != old_kid
    assert by_kid[new_kid] > 0, "no request carried a token signed by the new key"
    assert report.failed == 0, report.summary()
    assert old_after.status == 200, "a token signed by the retired (still published) key failed"
    assert "401" not in str(report.reasons())


async def _load_until(
    proxy: ProxyProcess, token: str, report: LoadReport, stop: asyncio.Event, limit: float
) -> None:
    deadline = time.monotonic() + limit
    async with aiohttp.ClientSession() as session:

        async def worker() -> None:
            while not stop.is_set() and time.monotonic() < deadline:
                report.add(
                    await one_request(session, f"{proxy.url}/apis/things", token, timeout=10)
                )
                await asyncio.sleep(0.02)

        await asyncio.gather(*(worker() for _ in range(3)))


async def test_idp_outage(
    start_proxy: StartProxy, keycloak: Any, upstream: RecordingUpstream
) -> None:
    stale = 10.0
    proxy = start_proxy(
        keycloak.issuer,
        upstream.url,
        "aiohttp",
        **_kc_overrides(
            keycloak, stale_max_age_seconds=stale, refresh_interval_seconds=2, refresh_jitter=0
        ),
    )
    token = await asyncio.to_thread(_fresh, keycloak)
    report = LoadReport("IdP outage (Keycloak stopped)")
    stop = asyncio.Event()
    load = asyncio.create_task(_load_until(proxy, token, report, stop, limit=400))
    await asyncio.sleep(2)

    t_stop_begin = time.monotonic()
    try:
        await asyncio.to_thread(keycloak.stop)
        t_stop_end = time.monotonic()
        # run well past the stale window
        await asyncio.sleep(max(0.0, t_stop_end + stale + 6 - time.monotonic()))
        ready_while_stale = proxy.admin_status("/readyz")

        # a proxy started during the outage: not ready, forwards nothing
        seen_before = upstream.count()
        late = start_proxy(
            keycloak.issuer,
            upstream.url,
            "aiohttp",
            wait_ready=False,
            **_kc_overrides(keycloak, refresh_interval_seconds=2),
        )
        late_ready = []
        late_status = []
        for _ in range(10):
            late_ready.append(late.admin_status("/readyz"))
            late_status.append(
                request(
                    late.port, "GET", "/apis/things", [("Authorization", f"Bearer {token}")]
                ).status
            )
            await asyncio.sleep(0.5)
        late_forwarded = upstream.count() - seen_before
    finally:
        t_start_begin = time.monotonic()
        await asyncio.to_thread(keycloak.start)
    t_started = time.monotonic()

    # both recover without a restart
    fresh = await asyncio.to_thread(_fresh, keycloak)
    recovered_after = late_recovered_after = None
    for _ in range(120):
        if (
            recovered_after is None
            and request(
                proxy.port, "GET", "/apis/things", [("Authorization", f"Bearer {fresh}")]
            ).status
            == 200
        ):
            recovered_after = time.monotonic() - t_started
        if late_recovered_after is None and late.admin_status("/readyz") == 200:
            late_recovered_after = time.monotonic() - t_started
        if recovered_after is not None and late_recovered_after is not None:
            break
        await asyncio.sleep(0.5)
    stop.set()
    await load

    in_window = report.between(t_stop_begin, t_stop_begin + stale - 3)
    past = report.between(t_stop_end + stale + 3, t_start_begin)
    report.print()
    print(f"  stale_max_age_seconds={stale}; Keycloak stop took {t_stop_end - t_stop_begin:.1f}s")
    print(
        f"  within the stale window: sent={len(in_window)} "
        f"ok={sum(o.status == 200 for o in in_window)}; past it: sent={len(past)} "
        f"{dict(report.reasons(past))}; /readyz while stale: {ready_while_stale}"
    )
    print(
        f"  proxy started during the outage: /readyz {sorted(set(map(str, late_ready)))}, "
        f"requests → {sorted(set(late_status))}, forwarded upstream: {late_forwarded}"
    )
    print(
        f"  Keycloak back after {t_started - t_start_begin:.1f}s; running proxy serves again "
        f"after {recovered_after}s, late proxy ready after {late_recovered_after}s"
    )

    assert in_window and all(o.status == 200 for o in in_window), report.reasons(in_window)
    assert past and all(o.status == 401 and o.reason == "keys_stale" for o in past), report.reasons(
        past
    )
    assert all(s == 503 for s in late_ready), late_ready
    assert all(not 200 <= s < 300 for s in late_status), late_status
    assert late_forwarded == 0
    assert recovered_after is not None, "the running proxy did not recover"
    assert late_recovered_after is not None, (
        "the proxy started during the outage never became ready"
    )
    assert proxy.proc is not None and proxy.proc.poll() is None

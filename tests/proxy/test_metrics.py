"""The admin port: health, readiness and the Prometheus series."""

from __future__ import annotations

import aiohttp
import pytest

from .proxy_harness import FakeIdP, ProxyProcess, http_get, metric_value

pytestmark = pytest.mark.integration

SERIES = [
    "authgate_requests_total",
    "authgate_auth_failures_total",
    "authgate_auth_check_seconds_bucket",
    "authgate_upstream_seconds_bucket",
    "authgate_jwks_fetches_total",
    "authgate_jwks_fetch_failures_total",
    "authgate_jwks_keys",
    "authgate_token_cache_hits_total",
    "authgate_in_flight_requests",
]


async def test_health_ready_and_metrics(proxy: ProxyProcess, fake_idp: FakeIdP) -> None:
    assert http_get(f"{proxy.admin_url}/healthz")[0] == 200
    assert http_get(f"{proxy.admin_url}/readyz")[0] == 200
    token = fake_idp.mint()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as s:
        for _ in range(3):
            async with s.get(
                f"{proxy.url}/apis/m", headers={"Authorization": f"Bearer {token}"}
            ) as r:
                assert r.status == 200
        async with s.get(f"{proxy.url}/apis/m") as r:
            assert r.status == 401
    text = proxy.metrics()
    for name in SERIES:
        assert name in text, name
    assert metric_value(text, "authgate_requests_total", outcome="allowed", status="200") == 3
    assert metric_value(text, "authgate_auth_failures_total", reason="missing_token") == 1
    assert metric_value(text, "authgate_jwks_keys") == 2
    assert metric_value(text, "authgate_jwks_fetches_total") >= 1
    assert metric_value(text, "authgate_token_cache_hits_total") >= 2
    assert metric_value(text, "authgate_in_flight_requests") == 0


async def test_not_ready_until_keys_load(proxy_factory, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from .proxy_harness import free_port

    dead_issuer = f"http://127.0.0.1:{free_port()}"
    proxy = proxy_factory(
        wait_ready=False, oidc={"issuer": dead_issuer}, keys={"fetch_timeout_seconds": 1}
    )
    import time

    deadline = time.monotonic() + 20
    while http_get(f"{proxy.admin_url}/healthz")[0] != 200:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert http_get(f"{proxy.admin_url}/readyz")[0] == 503

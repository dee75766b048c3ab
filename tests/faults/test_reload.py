"""Config hot reload under load: a valid and an invalid change.

Expected: zero failed requests throughout; the valid change takes effect (a
new public path answers without a token); the invalid one — a document with
validation errors, then one that is not YAML at all — is rejected and counted
(``authgate_config_reloads_total{result="invalid"}``) while the previous
configuration keeps serving.
"""

from __future__ import annotations

import asyncio
import copy
import time

import pytest

from tests.hostile.servers import RecordingUpstream
from tests.support.idp import LocalIdP
from tests.support.ports import free_port
from tests.support.rawhttp import request

from .conftest import StartProxy, local_token
from .load import LoadReport, run_load

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

RELOADS = "authgate_config_reloads_total"


async def _until(check, timeout: float = 15.0) -> float:  # type: ignore[no-untyped-def]
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if await asyncio.to_thread(check):
            return time.monotonic() - start
        await asyncio.sleep(0.2)
    raise AssertionError(f"condition not met within {timeout}s")


async def test_reload_under_load(
    start_proxy: StartProxy, idp: LocalIdP, upstream: RecordingUpstream, engine: str
) -> None:
    proxy = start_proxy(idp.issuer, upstream.url, engine)
    token = local_token(idp, ttl=3600)
    report = LoadReport(f"{engine} hot reload under load")
    load = asyncio.create_task(
        run_load(
            report,
            f"{proxy.url}/apis/things",
            lambda: token,
            concurrency=4,
            duration=20,
            max_requests=50_000,
            pause=0.005,
        )
    )
    await asyncio.sleep(1.5)

    def public_status() -> int:
        return request(proxy.port, "GET", "/newpublic/x", []).status

    assert public_status() == 401  # control: not public yet

    valid = copy.deepcopy(proxy.document)
    valid["authorization"]["public_paths"].append("/newpublic/")
    proxy.write_config(valid)
    took_valid = await _until(lambda: public_status() == 200)

    invalid = copy.deepcopy(valid)
    invalid["authorization"]["rules"][0]["read_scopes"] = []
    invalid["upstream"]["read_timeout_seconds"] = -1
    invalid["authorization"]["public_paths"] = ["/"]  # would open everything if applied
    invalid["no_such_section"] = {}
    proxy.write_config(invalid)
    took_invalid = await _until(lambda: proxy.metric_sum(RELOADS, result="invalid") >= 1)

    proxy.write_config("listen: [unclosed\n  - : :\n")  # not even YAML
    await _until(lambda: proxy.metric_sum(RELOADS, result="invalid") >= 2)

    # valid, but its issuer is unreachable (what a garbage issuer in a ConfigMap
    # looks like to the pod): the new keys cannot load, so it is not applied
    unreachable = copy.deepcopy(valid)
    unreachable["oidc"]["issuer"] = f"http://127.0.0.1:{free_port()}/realms/garbage"
    unreachable["authorization"]["public_paths"] = ["/"]
    proxy.write_config(unreachable)
    await _until(lambda: proxy.metric_sum(RELOADS, result="keys_unavailable") >= 1, timeout=30)

    # the last good config keeps serving
    assert public_status() == 200
    assert request(proxy.port, "GET", "/apis/things", []).status == 401, (
        "neither rejected document (public_paths: [/]) may have been applied"
    )
    await load
    report.print()
    successes = proxy.metric_sum(RELOADS, result="success")
    invalids = proxy.metric_sum(RELOADS, result="invalid")
    no_keys = proxy.metric_sum(RELOADS, result="keys_unavailable")
    print(
        f"  valid change applied after {took_valid:.1f}s, invalid rejected after "
        f"{took_invalid:.1f}s; {RELOADS}: success={successes:.0f} invalid={invalids:.0f} "
        f"keys_unavailable={no_keys:.0f}"
    )
    logs = proxy.log()
    assert "read_scopes" in logs, "the rejected reload should be logged with its errors"
    assert report.sent > 100
    assert report.failed == 0, report.summary()
    assert successes >= 1 and invalids >= 2 and no_keys >= 1
    assert proxy.proc is not None and proxy.proc.poll() is None

"""Run the hostile table (:mod:`.cases`) against the real proxy, both engines.

Every case asserts four things:

1. the status is the expected one;
2. the upstream saw nothing it should not have: no request at all when the
   proxy rejected it; when forwarded, exactly one copy of each identity
   header carrying the token's own subject, no spoofed value, no
   ``Authorization``, no configured strip header, and a path that normalises to
   the one that was authorised — and the ``jku``/``x5u`` canary was never hit;
3. no token appears in the proxy's logs (stdout + stderr) or in the answer;
4. no 5xx.
"""

from __future__ import annotations

import time

import pytest

from authgate.core.paths import normalize_path
from tests.support.rawhttp import build_request, send_raw

from .cases import ALL_CASES, IDENTITY, SPOOF, STRIPPED_EXTRA, Case
from .conftest import HostileEnv

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


def test_table_has_at_least_sixty_cases() -> None:
    ids = [c.id for c in ALL_CASES]
    assert len(ids) == len(set(ids)), "case ids must be unique"
    assert len(ids) >= 60, len(ids)


@pytest.mark.parametrize("case", ALL_CASES, ids=lambda c: c.id)
def test_hostile_case(hostile_env: HostileEnv, case: Case) -> None:
    env = hostile_env
    req = case.build(env.ctx)
    env.secrets.extend(req.secrets)
    before = env.upstream.count()
    canary_before = len(env.canary.hits)

    data = req.raw or build_request(req.method, req.target, list(req.headers), req.body)
    resp = send_raw(env.proxy.port, data, stop_at_headers=req.websocket)
    print(f"[{env.engine}] {case.id}: {resp.status}")

    # 4. never a 5xx (nor a dropped connection)
    assert resp.status != 0, f"no HTTP answer (connection closed)\n{env.proxy.tail(20)}"
    assert resp.status < 500, f"5xx: {resp.raw[:500]!r}\n{env.proxy.tail(20)}"
    # 1. the status
    assert resp.status in case.expect, (
        f"{case.id}: got {resp.status}, expected {case.expect} ({case.why})\n{resp.raw[:600]!r}"
    )
    if resp.status == 401:
        challenge = resp.header("WWW-Authenticate") or ""
        assert challenge.startswith("Bearer "), f"401 without a Bearer challenge: {challenge!r}"

    # 2. what the upstream saw
    seen = env.upstream.seen[before:]
    if resp.status in (200, 101):
        assert len(seen) == 1, f"forwarded {len(seen)} requests upstream"
        got = seen[0]
        for name in IDENTITY:
            values = got.values(name)
            assert SPOOF not in values, f"spoofed {name} reached the upstream"
            if req.sub is None:
                assert values == [], f"{name} injected without a principal: {values}"
            else:
                assert len(values) == 1, f"{name} must appear exactly once, got {values}"
        if req.sub is not None:
            assert got.values(IDENTITY[0]) == [req.sub]
        assert got.values(STRIPPED_EXTRA) == [], "headers.strip header reached the upstream"
        assert got.values("Authorization") == [], (
            "Authorization forwarded (forward_authorization=false)"
        )
        if case.check is not None:
            case.check(got, req)
        if req.target.startswith("/") and req.raw is None:
            sent_path = req.target.split("?", 1)[0]
            seen_path = got.target.split("?", 1)[0]
            assert normalize_path(seen_path) == normalize_path(sent_path), (
                f"upstream saw {got.target!r} for {req.target!r}"
            )
    else:
        assert seen == [], f"rejected request reached the upstream: {seen}"
    assert env.canary.hits[canary_before:] == [], "the proxy fetched a jku/x5u URL"

    # 3. no token in the answer or the logs
    for secret in req.secrets:
        assert secret.encode() not in resp.raw, "the token was echoed in the response"
    time.sleep(0.02)  # let the access-log line reach the file
    logs = env.proxy.log()
    for secret in req.secrets:
        assert secret not in logs, "the token appears in the proxy's logs"
        signature = secret.rsplit(".", 1)[-1]
        if len(signature) >= 32:
            assert signature not in logs, "the token's signature appears in the proxy's logs"


def test_no_token_anywhere_in_logs(hostile_env: HostileEnv) -> None:
    """After the whole table (the log is complete now): sweep for every token."""
    time.sleep(0.3)
    logs = hostile_env.proxy.log()
    assert logs.strip(), "the proxy logged nothing at all (access log missing?)"
    leaked = [s[:12] + "…" for s in hostile_env.secrets if s in logs]
    assert not leaked, f"{len(leaked)} tokens found in the logs"
    assert hostile_env.proxy.proc is not None and hostile_env.proxy.proc.poll() is None, (
        "the proxy died during the hostile table"
    )

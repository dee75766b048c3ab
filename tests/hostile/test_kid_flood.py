"""A flood of random ``kid`` values must not turn the proxy into a JWKS
amplifier: an unknown ``kid`` triggers at most one refetch per
``keys.unknown_kid_cooldown_seconds`` (30 s here), and the misses are
negative-cached."""

from __future__ import annotations

import secrets

import pytest

from tests.support.idp import LocalIdP
from tests.support.rawhttp import request

from .conftest import HostileEnv

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

FLOOD = 200


def test_random_kid_flood_fetches_jwks_at_most_once(hostile_env: HostileEnv, idp: LocalIdP) -> None:
    env = hostile_env
    before = idp.jwks_hits
    statuses: dict[int, int] = {}
    for _ in range(FLOOD):
        token = env.ctx.attacker.sign(
            env.ctx.claims("flood-user"), headers={"kid": secrets.token_hex(8)}
        )
        status = request(
            env.proxy.port, "GET", "/apis/things", [("Authorization", f"Bearer {token}")]
        ).status
        statuses[status] = statuses.get(status, 0) + 1
    fetched = idp.jwks_hits - before
    print(f"[{env.engine}] {FLOOD} random kids → {statuses}; JWKS fetched {fetched}x")
    assert statuses == {401: FLOOD}
    assert fetched <= 1, f"{fetched} JWKS fetches for one cooldown window"

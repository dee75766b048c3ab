"""Fixtures of the fault scenarios: real proxies started per test.

The loopback servers (IdP, recording upstream) are the hostile suite's
session fixtures, re-exported here; Keycloak, the API server and the operator
come from the real test environment (``tests/conftest.py``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.hostile.conftest import canary, idp, servers, upstream
from tests.hostile.forge import claims
from tests.proxy.proxy_harness import ProxyFleet, ProxyProcess, base_config, deep_merge
from tests.support.fixtures import engine
from tests.support.idp import LocalIdP

__all__ = ["canary", "engine", "idp", "servers", "upstream"]

pytestmark = pytest.mark.integration

StartProxy = Callable[..., ProxyProcess]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The ten-minute soak is opt-in (``AUTHGATE_SOAK=1``): deselected, not
    skipped, so a default run reports no skipped test for it."""
    if os.environ.get("AUTHGATE_SOAK") == "1":
        return
    soak = [item for item in items if item.get_closest_marker("soak")]
    if soak:
        config.hook.pytest_deselected(items=soak)
        items[:] = [item for item in items if not item.get_closest_marker("soak")]


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Iterator[None]:
    outcome: Any = yield
    rep = outcome.get_result()
    setattr(item, f"rep_{rep.when}", rep)


@pytest.fixture
def start_proxy(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StartProxy]:
    """``start_proxy(issuer, upstream_url, engine, wait_ready=True, **overrides)``."""
    fleet = ProxyFleet(tmp_path)

    def start(
        issuer: str,
        upstream_url: str,
        engine: str,
        *,
        wait_ready: bool = True,
        timeout: float = 30,
        **overrides: Any,
    ) -> ProxyProcess:
        config = deep_merge(base_config(issuer, upstream_url, engine), overrides)
        workdir = f"p{len(fleet.started)}"
        name = f"proxy-{engine}"
        return fleet.start(
            config, workdir=workdir, name=name, wait_ready=wait_ready, timeout=timeout
        )

    with fleet:
        yield start
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        for proxy in fleet.started:
            print(f"\n----- {proxy.name} log (tail) -----\n{proxy.tail(15)}")


def local_token(idp: LocalIdP, sub: str = "load-user", ttl: int = 600, **extra: Any) -> str:
    return idp.primary.sign(claims(idp.issuer, sub, ttl=ttl, **extra))

"""Fixtures for the proxy suite: real processes on loopback.

* ``fake_idp`` — discovery + JWKS on loopback (:class:`tests.support.idp.LocalIdP`),
  until Keycloak is the IdP of every run (``test_keycloak.py`` covers it already);
  from :mod:`tests.support.fixtures`, as the workload suite takes it.
* ``demo_upstream`` — ``python -m authgate.proxy.demo``, the echo service (likewise).
* ``misbehaving_upstream`` — hangs, for 504 and cancellation.
* ``proxy_factory`` — ``python -m authgate proxy --config FILE``, parametrized
  over the data-path engines (:data:`tests.support.engines.ENGINES`: ``aiohttp``
  and ``lean``), so the whole suite runs against both.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.fixtures import demo_upstream, engine, fake_idp
from tests.support.processes import serve_python

from .proxy_harness import (
    HERE,
    FakeIdP,
    ProxyFleet,
    ProxyProcess,
    ServerProcess,
    base_document,
    deep_merge,
)

__all__ = ["demo_upstream", "engine", "fake_idp"]  # shared fixtures, registered by this import

pytestmark = pytest.mark.integration


def _dump_on_failure(request: pytest.FixtureRequest, *procs: ServerProcess) -> None:
    reports = [getattr(request.node, f"rep_{when}", None) for when in ("setup", "call")]
    if any(rep is not None and rep.failed for rep in reports):
        for proc in procs:
            print(f"\n----- {proc.log_path.name} -----\n{proc.log()[-6000:]}")


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Iterator[None]:
    outcome = yield
    rep = outcome.get_result()
    setattr(item, f"rep_{rep.when}", rep)


@pytest.fixture(scope="session")
def misbehaving_upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    workdir = tmp_path_factory.mktemp("bad")
    with serve_python(
        [str(HERE / "misbehaving_upstream.py")], workdir / "bad.log", "/stats"
    ) as url:
        yield url


ProxyFactory = Callable[..., ProxyProcess]


@pytest.fixture
def proxy_factory(
    request: pytest.FixtureRequest,
    engine: str,
    fake_idp: FakeIdP,
    demo_upstream: str,
    tmp_path: Path,
) -> Iterator[ProxyFactory]:
    """``proxy_factory(**overrides)`` starts a proxy (config deep-merged with
    ``overrides``) and waits until it is ready; all are stopped afterwards."""
    fleet = ProxyFleet(tmp_path)

    def factory(*, wait_ready: bool = True, **overrides: Any) -> ProxyProcess:
        document = deep_merge(base_document(fake_idp.issuer, demo_upstream, engine), overrides)
        return fleet.start(document, workdir=f"proxy{len(fleet.started)}", wait_ready=wait_ready)

    with fleet:
        yield factory
    _dump_on_failure(request, *(p.process for p in fleet.started if p.process is not None))


@pytest.fixture
def proxy(proxy_factory: ProxyFactory) -> ProxyProcess:
    """A proxy with the default test config in front of the demo service."""
    return proxy_factory()

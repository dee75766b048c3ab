"""Fixtures for the proxy suite: real processes on loopback.

* ``fake_idp`` — discovery + JWKS on loopback (:class:`tests.support.idp.LocalIdP`),
  until Keycloak is the IdP of every run (``test_keycloak.py`` covers it already).
* ``demo_upstream`` — ``python -m authgate.proxy.demo``, the echo service.
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

from tests.support.engines import ENGINES
from tests.support.idp import serve_idp

from .proxy_harness import (
    HERE,
    PYTHON,
    FakeIdP,
    ProxyProcess,
    ServerProcess,
    base_document,
    deep_merge,
    demo_service,
    free_port,
    wait_for,
)

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
def fake_idp() -> Iterator[FakeIdP]:
    """The shared loopback IdP (one RSA, one EC key), its issuer the bare origin."""
    with serve_idp(realm="") as idp:
        yield idp


@pytest.fixture(scope="session")
def demo_upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with demo_service(tmp_path_factory.mktemp("demo")) as url:
        yield url


@pytest.fixture(scope="session")
def misbehaving_upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    workdir = tmp_path_factory.mktemp("bad")
    port = free_port()
    proc = ServerProcess(
        [PYTHON, str(HERE / "misbehaving_upstream.py"), "--port", str(port)], workdir / "bad.log"
    ).start()
    url = f"http://127.0.0.1:{port}"
    wait_for(f"{url}/stats", proc=proc.proc)
    yield url
    proc.stop()


ProxyFactory = Callable[..., ProxyProcess]


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


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
    started: list[ProxyProcess] = []

    def factory(*, wait_ready: bool = True, **overrides: Any) -> ProxyProcess:
        document = deep_merge(base_document(fake_idp.issuer, demo_upstream, engine), overrides)
        workdir = tmp_path / f"proxy{len(started)}"
        workdir.mkdir()
        proxy = ProxyProcess(document, workdir)
        started.append(proxy)
        return proxy.start(wait_ready=wait_ready)

    try:
        yield factory
    finally:
        for proxy in started:
            proxy.stop()
    _dump_on_failure(request, *(p.process for p in started if p.process is not None))


@pytest.fixture
def proxy(proxy_factory: ProxyFactory) -> ProxyProcess:
    """A proxy with the default test config in front of the demo service."""
    return proxy_factory()

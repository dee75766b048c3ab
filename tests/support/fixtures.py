"""Fixtures that several suites share: the engine matrix, the loopback IdP, the demo upstream.

A suite's ``conftest.py`` imports the ones it needs (pytest registers a fixture that a
conftest module holds, imported or not), so the proxy and workload suites start
these the same way instead of each writing its own.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.engines import ENGINES
from tests.support.idp import LocalIdP, serve_idp
from tests.support.processes import demo_service

__all__ = ["demo_upstream", "engine", "fake_idp"]


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    """Each data-path engine in turn: a test that takes it runs once per engine."""
    return str(request.param)


@pytest.fixture(scope="session")
def fake_idp() -> Iterator[LocalIdP]:
    """The shared loopback IdP (one RSA, one EC key), its issuer the bare origin."""
    with serve_idp(realm="") as idp:
        yield idp


@pytest.fixture(scope="session")
def demo_upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``python -m authgate.proxy.demo``, the echo service, for the whole session."""
    with demo_service(tmp_path_factory.mktemp("demo")) as url:
        yield url

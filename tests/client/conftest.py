"""Fixtures for the client suite: the real proxy in front of real Keycloak.

* ``demo_upstream`` — ``python -m authgate.proxy.demo`` (echoes the headers it gets).
* ``platform`` — ``python -m authgate proxy --config FILE`` with
  ``oidc.issuer`` = Keycloak's realm, ``client_id`` = ``authgate-cli``,
  ``audience`` = ``api://authgate`` and Keycloak's CA, in front of the demo.
  Its discovery document is what every ``authgate login`` reads.
* ``cli`` — :class:`client_harness.Cli` with a fresh config file.
* ``start_proxy`` — a proxy of the test's own from a config document, stopped after it.
* ``sdk_env`` — no stored login and no ``AUTHGATE_*`` credential for the SDK.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from .client_harness import Cli, ServerProcess
from .keycloak_cli import keycloak_proxy_document
from .servers import proxy_url, running_demo, running_proxy

DEFAULT_SCOPES = "openid profile email platform:read platform:write"


@dataclass
class Platform:
    base_url: str
    ca_file: str
    proxy: ServerProcess


@pytest.fixture(scope="session")
def demo_upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_demo(tmp_path_factory.mktemp("demo")) as url:
        yield url


@pytest.fixture(scope="session")
def platform(
    keycloak: Any, demo_upstream: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Platform]:
    document = keycloak_proxy_document(
        keycloak, demo_upstream, audience=[keycloak.audience], default_scopes=DEFAULT_SCOPES
    )
    with running_proxy(document, tmp_path_factory.mktemp("platform")) as proc:
        yield Platform(proxy_url(document), str(keycloak.ca_file), proc)


@pytest.fixture
def start_proxy(tmp_path: Path) -> Iterator[Callable[[dict[str, Any]], str]]:
    """Starts a proxy of the test's own from a config document; its base URL."""
    with ExitStack() as stack:

        def start(document: dict[str, Any]) -> str:
            stack.enter_context(running_proxy(document, tmp_path))
            return proxy_url(document)

        yield start


@pytest.fixture
def sdk_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The SDK sees no stored login and no credential or platform in the environment."""
    monkeypatch.setenv("AUTHGATE_CONFIG", str(tmp_path / "no-login.yaml"))
    for name in (
        "AUTHGATE_TOKEN",
        "AUTHGATE_TOKEN_FILE",
        "AUTHGATE_CLIENT_ID",
        "AUTHGATE_CLIENT_SECRET",
        "AUTHGATE_BASE_URL",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path)


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed and "platform" in item.fixturenames:
        platform = item.funcargs.get("platform")
        if isinstance(platform, Platform):
            report.sections.append(("proxy log", platform.proxy.log()[-6000:]))

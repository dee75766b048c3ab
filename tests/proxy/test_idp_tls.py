"""The IdP over HTTPS: ``keys.ca_file`` is the trust anchor for discovery and JWKS."""

from __future__ import annotations

import http.client
import json
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from .proxy_harness import (
    HERE,
    PYTHON,
    FakeIdP,
    ServerProcess,
    SigningKeys,
    free_port,
    http_get,
    metric_value,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def tls_idp(test_ca, signing_keys: SigningKeys, tmp_path: Path) -> Iterator[FakeIdP]:  # type: ignore[no-untyped-def]
    cert, key = test_ca.issue(["127.0.0.1"])
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(signing_keys.jwks()))
    port = free_port()
    proc = ServerProcess(
        [PYTHON, str(HERE / "fake_idp.py"), "--port", str(port), "--jwks", str(jwks),
         "--cert", str(cert), "--key", str(key)],
        tmp_path / "tls-idp.log",
    ).start()  # fmt: skip
    issuer = f"https://127.0.0.1:{port}"
    context = ssl.create_default_context(cafile=str(test_ca.cert_file))
    deadline = time.monotonic() + 20
    while True:
        try:
            conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=2, context=context)
            conn.request("GET", "/stats")
            if conn.getresponse().status == 200:
                break
        except OSError:
            pass
        assert time.monotonic() < deadline, proc.log()
        time.sleep(0.05)
    yield FakeIdP(issuer, proc, signing_keys)
    proc.stop()


async def test_ca_file_trusts_the_idp(proxy_factory, tls_idp: FakeIdP, test_ca) -> None:  # type: ignore[no-untyped-def]
    proxy = proxy_factory(oidc={"issuer": tls_idp.issuer},
                          keys={"ca_file": str(test_ca.cert_file)})  # fmt: skip
    auth = {"Authorization": f"Bearer {tls_idp.mint()}"}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as s:
        async with s.get(f"{proxy.url}/apis/tls", headers=auth) as r:
            assert r.status == 200


async def test_without_ca_file_the_idp_is_not_trusted(proxy_factory, tls_idp: FakeIdP) -> None:  # type: ignore[no-untyped-def]
    proxy = proxy_factory(wait_ready=False, oidc={"issuer": tls_idp.issuer},
                          keys={"fetch_timeout_seconds": 2})  # fmt: skip
    deadline = time.monotonic() + 20
    while http_get(f"{proxy.admin_url}/healthz")[0] != 200:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    while metric_value(proxy.metrics(), "authgate_jwks_fetch_failures_total") < 1:
        assert time.monotonic() < deadline, proxy.log()[-2000:]
        time.sleep(0.1)
    assert http_get(f"{proxy.admin_url}/readyz")[0] == 503
    assert metric_value(proxy.metrics(), "authgate_jwks_keys") == 0

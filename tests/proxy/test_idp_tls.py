"""The IdP over HTTPS: ``keys.ca_file`` is the trust anchor for discovery and JWKS."""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterator

import aiohttp
import pytest

from tests.support.idp import serve_idp

from .proxy_harness import FakeIdP, http_get, metric_value

pytestmark = pytest.mark.integration


@pytest.fixture
def tls_idp(test_ca, fake_idp: FakeIdP) -> Iterator[FakeIdP]:  # type: ignore[no-untyped-def]
    """The same keys as ``fake_idp``, over HTTPS with a certificate from the test CA."""
    cert, key = test_ca.issue(["127.0.0.1"])
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert), str(key))
    with serve_idp(realm="", keys=fake_idp.keys, ssl_context=context) as idp:
        yield idp


async def test_ca_file_trusts_the_idp(proxy_factory, tls_idp: FakeIdP, test_ca) -> None:  # type: ignore[no-untyped-def]
    proxy = proxy_factory(oidc={"issuer": tls_idp.issuer}, keys={"ca_file": str(test_ca.cert_file)})
    auth = {"Authorization": f"Bearer {tls_idp.mint()}"}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as s:
        async with s.get(f"{proxy.url}/apis/tls", headers=auth) as r:
            assert r.status == 200


async def test_without_ca_file_the_idp_is_not_trusted(proxy_factory, tls_idp: FakeIdP) -> None:  # type: ignore[no-untyped-def]
    proxy = proxy_factory(
        wait_ready=False, oidc={"issuer": tls_idp.issuer}, keys={"fetch_timeout_seconds": 2}
    )
    deadline = time.monotonic() + 20
    while http_get(f"{proxy.admin_url}/healthz")[0] != 200:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    while metric_value(proxy.metrics(), "authgate_jwks_fetch_failures_total") < 1:
        assert time.monotonic() < deadline, proxy.log()[-2000:]
        time.sleep(0.1)
    assert http_get(f"{proxy.admin_url}/readyz")[0] == 503
    assert metric_value(proxy.metrics(), "authgate_jwks_keys") == 0

"""Kubernetes service-account tokens as a second kind of issuer, against a real
kube-apiserver: TokenRequest mints audience-bound (and pod-bound) tokens; the
proxy discovers the issuer from the apiserver with the cluster CA and its own
service-account token, maps the service account to a principal, and keeps
working while the apiserver rotates its signing key.

Refusal cases: wrong audience, expired, another cluster's issuer, an unlisted
service account, a legacy (secret-style, no exp) token, a token signed by
another key under this issuer's name, and key discovery without credentials
where anonymous discovery is off.  The rotation test runs last (it restarts
this module's apiserver).
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.proxy.proxy_harness import (
    AUDIENCE,
    CLIENT_ID,
    FakeIdP,
    ProxyFleet,
    ProxyProcess,
    deep_merge,
    listening_document,
    wait_for,
)
from tests.testenv import KubeEnv

from .conftest import SA_AUDIENCE, Cluster

pytestmark = [pytest.mark.integration, pytest.mark.k8s]

ProxyStarter = Callable[..., ProxyProcess]


def sa_entry(cluster: Cluster, token_file: Path | str) -> dict[str, Any]:
    """The issuer entry for this cluster's service-account issuer."""
    kube = cluster.kube
    return {
        "name": "cluster",
        "kind": "kubernetes",
        "issuer": kube.server,  # --service-account-issuer of the test apiserver
        "audience": [SA_AUDIENCE],
        "ca_file": str(kube.ca_file),
        "token_file": str(token_file),
        "kubernetes": {
            "api_server": kube.server,
            "allowed_service_accounts": [
                {"namespace": "jobs", "name": "*", "scopes": ["platform:read"]},
                {
                    "namespace": "ci-*",
                    "name": "deployer",
                    "scopes": ["platform:read", "platform:write"],
                },
            ],
        },
    }


def proxy_document(
    cluster: Cluster, idp: FakeIdP, upstream: str, token_file: Path, engine: str
) -> dict[str, Any]:
    return {
        **listening_document(engine),
        "upstream": {"url": upstream},
        "oidc": {"issuer": idp.issuer, "client_id": CLIENT_ID, "audience": [AUDIENCE]},
        "keys": {"unknown_kid_cooldown_seconds": 1, "fetch_timeout_seconds": 5},
        "issuers": [sa_entry(cluster, token_file)],
    }


@pytest.fixture(scope="module")
def sidecar_token(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sidecar's own token (audience: the apiserver), as the kubelet would mount it."""
    path = tmp_path_factory.mktemp("sidecar") / "token"
    path.write_text(
        cluster.token("authgate-system", "authgate-proxy", audiences=[cluster.kube.server])
    )
    return path


@pytest.fixture(scope="module")
def start_proxy(
    cluster: Cluster,
    fake_idp: FakeIdP,
    demo_upstream: str,
    sidecar_token: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ProxyStarter]:
    fleet = ProxyFleet(tmp_path_factory.mktemp("proxies"))

    def start(engine: str = "lean", wait_ready: bool = True, **overrides: Any) -> ProxyProcess:
        doc = proxy_document(cluster, fake_idp, demo_upstream, sidecar_token, engine)
        workdir = f"proxy-{engine}{len(fleet.started)}"
        try:
            return fleet.start(deep_merge(doc, overrides), workdir=workdir, wait_ready=wait_ready)
        except Exception:
            print(fleet.started[-1].log()[-4000:])
            raise

    with fleet:
        yield start


@pytest.fixture(scope="module")
def lean(start_proxy: ProxyStarter) -> ProxyProcess:
    return start_proxy("lean")


def call(proxy: ProxyProcess, token: str, method: str = "GET") -> httpx.Response:
    return httpx.request(
        method,
        f"{proxy.url}/api/orders",
        headers={"Authorization": f"Bearer {token}", "X-NMP-Principal-Pod": "spoofed-pod"},
        timeout=10,
    )


def upstream_headers(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 200, response.text
    return {k.lower(): v for k, v in response.json()["headers"]}


def reason(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, str(response.json().get("reason"))


def resign(cluster: Cluster, token: str, **changes: Any) -> str:
    """``token``'s claims with ``changes`` (None removes), signed with the apiserver's
    own signing key and kid: only the claims differ from what the cluster would issue."""
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    claims.update(changes)
    claims = {k: v for k, v in claims.items() if v is not None}
    assert cluster.kube.sa_signing_key is not None
    key = serialization.load_pem_private_key(cluster.kube.sa_signing_key.read_bytes(), None)
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": header["kid"]})  # type: ignore[arg-type]


@pytest.mark.parametrize("engine", ["lean", "aiohttp"])
def test_pod_bound_token_is_accepted_and_mapped(
    cluster: Cluster, fake_idp: FakeIdP, start_proxy: ProxyStarter, lean: ProxyProcess, engine: str
) -> None:
    proxy = lean if engine == "lean" else start_proxy(engine)
    token = cluster.token("jobs", "runner", pod=True)
    headers = upstream_headers(call(proxy, token))
    assert headers["x-nmp-principal-id"] == "service:jobs/runner"
    assert headers["x-nmp-principal-groups"] == "system:serviceaccounts,system:serviceaccounts:jobs"
    assert headers["x-nmp-scopes"] == "platform:read"
    assert headers["x-nmp-principal-pod"] == "runner-pod"  # the client's spoofed value is gone
    assert headers["x-nmp-principal-pod-uid"] == cluster.pod_uid
    assert "authorization" not in headers
    # a read-only grant: writes are refused by scope, like any token
    assert reason(call(proxy, token, "POST")) == (403, "insufficient_scope")
    # a glob grant with write scope, and a token not bound to a pod (no pod headers)
    deployer = cluster.token("ci-main", "deployer")
    written = upstream_headers(call(proxy, deployer, "POST"))
    assert written["x-nmp-principal-id"] == "service:ci-main/deployer"
    assert "x-nmp-principal-pod" not in written
    # the IdP's tokens keep working next to the cluster's
    assert upstream_headers(call(proxy, fake_idp.mint()))["x-nmp-principal-id"] == "user-1"
    # an IdP token for the cluster's audience is still an IdP token: wrong audience there
    assert reason(call(proxy, fake_idp.mint(aud=SA_AUDIENCE))) == (401, "bad_audience")


def test_refusals(cluster: Cluster, lean: ProxyProcess, kube: KubeEnv) -> None:
    good = cluster.token("jobs", "runner")
    assert call(lean, good).status_code == 200

    wrong_audience = cluster.token("jobs", "runner", audiences=["https://elsewhere.test"])
    assert reason(call(lean, wrong_audience)) == (401, "bad_audience")
    # the apiserver's own audience (what every pod's default token carries) is not ours
    default_token = cluster.token("jobs", "runner", audiences=[cluster.kube.server])
    assert reason(call(lean, default_token)) == (401, "bad_audience")

    expired = resign(
        cluster,
        good,
        exp=int(time.time()) - 3600,
        iat=int(time.time()) - 7200,
        nbf=int(time.time()) - 7200,
    )
    assert reason(call(lean, expired)) == (401, "token_expired")

    unlisted = cluster.token("intruders", "runner")
    assert reason(call(lean, unlisted)) == (403, "service_account_not_allowed")

    # A real token from another cluster (the suite's shared apiserver), for our audience.
    from .conftest import populate

    other = populate(kube).token("jobs", "runner")
    assert reason(call(lean, other)) == (401, "bad_issuer")
    # ... and one claiming our issuer but signed with that cluster's key
    other_claims = jwt.decode(other, options={"verify_signature": False})
    assert other_claims["iss"] != cluster.kube.server
    assert kube.sa_signing_key is not None
    other_key = serialization.load_pem_private_key(kube.sa_signing_key.read_bytes(), None)
    impostor = jwt.encode(
        {**other_claims, "iss": cluster.kube.server},
        other_key,  # type: ignore[arg-type]
        algorithm="RS256",
        headers=jwt.get_unverified_header(other),
    )
    assert reason(call(lean, impostor)) == (401, "unknown_kid")

    # Legacy secret-based token: signed with the real key, flat claims, no exp, no aud.
    legacy_claims = {
        "iss": "kubernetes/serviceaccount",
        "kubernetes.io/serviceaccount/namespace": "jobs",
        "kubernetes.io/serviceaccount/secret.name": "runner-token",
        "kubernetes.io/serviceaccount/service-account.name": "runner",
        "kubernetes.io/serviceaccount/service-account.uid": "00000000-0000-0000-0000-000000000000",
        "sub": "system:serviceaccount:jobs:runner",
    }
    removed: dict[str, Any] = dict.fromkeys(jwt.decode(good, options={"verify_signature": False}))
    legacy = resign(cluster, good, **{**removed, **legacy_claims})
    assert reason(call(lean, legacy)) == (401, "bad_issuer")
    legacy_here = resign(cluster, legacy, iss=cluster.kube.server)
    assert reason(call(lean, legacy_here)) == (401, "missing_claim")  # no exp

    # A self-made key under the right kid: the signature does not verify.
    own = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(
        jwt.decode(good, options={"verify_signature": False}),
        own,
        algorithm="RS256",
        headers=jwt.get_unverified_header(good),
    )
    assert reason(call(lean, forged)) == (401, "bad_signature")
    assert good not in call(lean, unlisted).text and unlisted not in call(lean, unlisted).text


def test_discovery_needs_the_sidecar_token(cluster: Cluster, start_proxy: ProxyStarter) -> None:
    """This apiserver (like most) does not allow anonymous issuer discovery: without
    the sidecar's token the keys never load, the sidecar is not ready, and tokens
    are refused as keys_unavailable, never accepted."""
    proxy = start_proxy("lean", wait_ready=False, issuers=[sa_entry(cluster, "")])
    assert proxy.process is not None
    wait_for(f"{proxy.admin_url}/healthz", timeout=30, proc=proxy.process.proc)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and "JWKS refresh failed" not in proxy.log():
        time.sleep(0.2)
    assert httpx.get(f"{proxy.admin_url}/readyz").status_code == 503
    assert "403" in proxy.log()
    response = call(proxy, cluster.token("jobs", "runner"))
    assert reason(response) == (401, "keys_unavailable")


def test_zy_throughput_figure(
    cluster: Cluster, fake_idp: FakeIdP, lean: ProxyProcess, tmp_path: Path
) -> None:
    """The figure for the closing note: requests per second through the lean engine
    with a service-account token next to an IdP token, in one run (wrk, 5 s each;
    printed, never asserted on: speed belongs to `make bench`)."""
    import shutil

    from bench.load import saturate, write_lua

    wrk = shutil.which("wrk")
    if wrk is None:
        from tests.testenv.components import in_ci

        reason = "wrk is not installed (scripts/testenv/setup.sh installs it)"
        pytest.fail(reason) if in_ci() else pytest.skip(reason)
    lua = write_lua(tmp_path)
    figures = {}
    for name, token in (
        ("service-account", cluster.token("jobs", "runner", pod=True)),
        ("idp", fake_idp.mint()),
    ):
        assert call(lean, token).status_code == 200
        file = tmp_path / f"{name}.txt"
        file.write_text(token + "\n")
        result = saturate(
            wrk, f"{lean.url}/api/orders", lua=lua, tokens=file, seconds=5, connections=32
        )
        assert result.errors == 0
        figures[name] = result.rps
    print(
        f"\nWORKLOAD-RPS lean engine, cached verification, 32 connections, 5 s each: "
        f"service-account {figures['service-account']:.0f} req/s, "
        f"idp {figures['idp']:.0f} req/s"
    )


def test_zz_key_rotation_without_sidecar_restart(
    cluster: Cluster, lean: ProxyProcess, sidecar_token: Path
) -> None:
    """The apiserver restarts signing with a new key, the old one still listed:
    tokens of both keys work, and the sidecar process is the same throughout."""
    assert lean.process is not None and lean.process.proc is not None
    pid = lean.process.proc.pid
    before = cluster.token("jobs", "runner", pod=True)
    old_kid = jwt.get_unverified_header(before)["kid"]
    assert call(lean, before).status_code == 200

    cluster.kube.rotate_service_account_key()
    after = cluster.token("jobs", "runner", pod=True)
    new_kid = jwt.get_unverified_header(after)["kid"]
    assert new_kid != old_kid
    time.sleep(1.2)  # the unknown-kid cooldown of this test config
    assert upstream_headers(call(lean, after))["x-nmp-principal-id"] == "service:jobs/runner"
    assert call(lean, before).status_code == 200  # the old key is still listed
    for _ in range(20):  # and both keep working (cached and uncached)
        assert call(lean, cluster.token("jobs", "runner")).status_code == 200
    assert lean.process.proc.pid == pid and lean.process.proc.poll() is None
    # the apiserver lists both keys; the sidecar loaded them from it (no restart)
    jwks = httpx.get(
        f"{cluster.kube.server}/openid/v1/jwks",
        verify=ssl.create_default_context(cafile=str(cluster.kube.ca_file)),
        headers={"Authorization": f"Bearer {sidecar_token.read_text()}"},
    ).json()
    assert {old_kid, new_kid} <= {k["kid"] for k in jwks["keys"]}

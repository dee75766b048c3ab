"""Issuer entries: several issuers, each with its own keys, audience and claim
mapping, behind one TokenVerifier.  Here with in-memory key sources; the real
kube-apiserver variant lives in tests/proxy/test_service_accounts.py."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from jwt.algorithms import RSAAlgorithm

from authgate.core.config import parse_config
from authgate.core.errors import AuthError, ConfigError, Forbidden, InvalidToken
from authgate.core.gate import Gate
from authgate.core.keys import KeyCache
from authgate.core.verify import TokenVerifier
from tests.support.fetchers import MemoryIdP

from .core_helpers import AUDIENCE, FAST_KEYS, ISSUER, Keys, base_document, claims, sign

SA_ISSUER = "https://kubernetes.default.svc.cluster.local"
API_SERVER = "https://kubernetes.default.svc"
SA_AUDIENCE = "https://platform.example/sa"

SA_ENTRY: dict[str, Any] = {
    "name": "cluster",
    "kind": "kubernetes",
    "issuer": SA_ISSUER,
    "audience": [SA_AUDIENCE],
    "kubernetes": {
        "api_server": API_SERVER,
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


def fake_api_server(keys: Keys) -> MemoryIdP:
    """The apiserver's /.well-known/openid-configuration and /openid/v1/jwks: the document
    names the service-account issuer and the apiserver's own address for the keys."""
    jwk = {**json.loads(RSAAlgorithm.to_jwk(keys.rsa_other.public_key())), "kid": "sa1"}
    return MemoryIdP(
        jwks={"keys": [jwk]},
        issuer=SA_ISSUER,
        base=API_SERVER,
        jwks_path="/openid/v1/jwks",
        advertised_jwks_uri="https://10.0.0.1:6443/openid/v1/jwks",
    )


def sa_claims(namespace: str = "jobs", name: str = "runner", **extra: Any) -> dict[str, Any]:
    now = int(time.time())
    body: dict[str, Any] = {
        "iss": SA_ISSUER,
        "aud": [SA_AUDIENCE],
        "sub": f"system:serviceaccount:{namespace}:{name}",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "kubernetes.io": {
            "namespace": namespace,
            "serviceaccount": {"name": name, "uid": "0f6c-sa-uid"},
            "pod": {"name": "runner-7d9f", "uid": "9a1e-pod-uid"},
        },
    }
    body.update(extra)
    return {k: v for k, v in body.items() if v is not None}


async def setup(idp: MemoryIdP, keys: Keys, **entry: Any) -> tuple[Gate, MemoryIdP]:
    doc = base_document()
    doc["issuers"] = [{**SA_ENTRY, **entry}]
    config = parse_config(doc)
    api = fake_api_server(keys)
    sa_entry = config.issuers[0]
    idp_cache = KeyCache(ISSUER, idp, FAST_KEYS)
    sa_cache = KeyCache(
        SA_ISSUER,
        api,
        FAST_KEYS,
        jwks_uri=sa_entry.effective_jwks_uri,
        metadata_url=sa_entry.effective_discovery_url,
    )
    await idp_cache.refresh()
    await sa_cache.refresh()
    return Gate.from_config(config, {ISSUER: idp_cache, SA_ISSUER: sa_cache}), api


async def refused(gate: Gate, token: str, method: str = "GET") -> AuthError:
    with pytest.raises(AuthError) as info:
        await gate.decide(method, "/api/x", [("Authorization", f"Bearer {token}")])
    assert token not in str(info.value.body())
    return info.value


async def test_service_account_token_maps_to_principal(idp: MemoryIdP, keys: Keys) -> None:
    gate, api = await setup(idp, keys)
    assert api.calls == [
        API_SERVER + "/.well-known/openid-configuration",
        API_SERVER + "/openid/v1/jwks",
    ]
    token = sign(keys.rsa_other, sa_claims(), kid="sa1")
    decision = await gate.decide(
        "GET",
        "/api/x",
        [("Authorization", f"Bearer {token}"), ("X-NMP-Principal-Pod", "spoofed")],
    )
    p = decision.principal
    assert p is not None
    assert (p.subject, p.kind, p.source, p.issuer) == (
        "service:jobs/runner",
        "kubernetes",
        "cluster",
        SA_ISSUER,
    )
    assert p.groups == ("system:serviceaccounts", "system:serviceaccounts:jobs")
    assert p.scopes == ("platform:read",)
    headers = dict(decision.upstream_headers)
    assert headers["X-NMP-Principal-Id"] == "service:jobs/runner"
    assert headers["X-NMP-Principal-Pod"] == "runner-7d9f"
    assert headers["X-NMP-Principal-Pod-Uid"] == "9a1e-pod-uid"
    assert headers["X-NMP-Scopes"] == "platform:read"
    assert [n for n, _ in decision.upstream_headers].count("X-NMP-Principal-Pod") == 1
    # read-only grant: a write is refused with 403 insufficient_scope
    assert (await refused(gate, token, "POST")).status == 403
    # the IdP's tokens still work, with their own mapping
    idp_decision = await gate.decide(
        "POST", "/api/x", [("Authorization", f"Bearer {sign(keys.rsa, claims())}")]
    )
    assert idp_decision.principal is not None and idp_decision.principal.subject == "user-1"
    assert idp_decision.principal.kind == "oidc"


async def test_glob_grant_and_template(idp: MemoryIdP, keys: Keys) -> None:
    gate, _ = await setup(idp, keys, claims={"principal": "sa/{namespace}/{name}/{uid}"})
    token = sign(keys.rsa_other, sa_claims("ci-main", "deployer"), kid="sa1")
    decision = await gate.decide("POST", "/api/x", [("Authorization", f"Bearer {token}")])
    assert decision.principal is not None
    assert decision.principal.subject == "sa/ci-main/deployer/0f6c-sa-uid"
    assert decision.principal.scopes == ("platform:read", "platform:write")


_COLLECTED_AT = int(time.time())


@pytest.mark.parametrize(
    ("payload", "status", "reason"),
    [
        (sa_claims("default", "runner"), 403, "service_account_not_allowed"),
        (sa_claims("ci-main", "other"), 403, "service_account_not_allowed"),
        (sa_claims(aud=[AUDIENCE]), 401, "bad_audience"),  # the IdP's audience is not this one's
        (sa_claims(aud=["https://other.example"]), 401, "bad_audience"),
        (sa_claims(exp=None), 401, "missing_claim"),
        (sa_claims(exp=int(time.time()) - 3600), 401, "token_expired"),
        (sa_claims(sub="system:serviceaccount:jobs"), 401, "bad_claim"),
        (sa_claims(sub="system:serviceaccount:kube-system:runner"), 401, "bad_claim"),
        (sa_claims(sub="alice"), 401, "bad_claim"),
        ({**sa_claims(), "kubernetes.io": None}, 401, "bad_claim"),
        (sa_claims(iss="https://other-cluster.example"), 401, "bad_issuer"),
    ],
)
async def test_service_account_refusals(
    idp: MemoryIdP, keys: Keys, payload: dict[str, Any], status: int, reason: str
) -> None:
    gate, _ = await setup(idp, keys)
    # The payloads were built at collection time, maybe many minutes before this test runs:
    # move their times to now, so only the expired case is expired.
    shift = int(time.time()) - _COLLECTED_AT
    payload = {
        k: (v + shift if k in ("iat", "nbf", "exp") and isinstance(v, int) else v)
        for k, v in payload.items()
        if v is not None
    }
    error = await refused(gate, sign(keys.rsa_other, payload, kid="sa1"))
    assert (error.status, error.reason) == (status, reason)
    if status == 403:
        assert isinstance(error, Forbidden)


async def test_legacy_secret_token_refused(idp: MemoryIdP, keys: Keys) -> None:
    gate, _ = await setup(idp, keys)
    legacy = {
        "iss": "kubernetes/serviceaccount",
        "kubernetes.io/serviceaccount/namespace": "jobs",
        "kubernetes.io/serviceaccount/service-account.name": "runner",
        "sub": "system:serviceaccount:jobs:runner",
    }
    assert (await refused(gate, sign(keys.rsa_other, legacy, kid="sa1"))).reason == "bad_issuer"
    # the same shape claiming the right issuer still has no exp and no audience
    legacy["iss"] = SA_ISSUER
    assert (await refused(gate, sign(keys.rsa_other, legacy, kid="sa1"))).reason == "missing_claim"


async def test_issuers_never_use_each_others_keys(idp: MemoryIdP, keys: Keys) -> None:
    gate, api = await setup(idp, keys)
    calls = api.calls.count(API_SERVER + "/openid/v1/jwks")
    # an SA-shaped token signed with the IdP's key (kid rsa1), and the reverse
    forged_sa = sign(keys.rsa, sa_claims(), kid="rsa1")
    assert (await refused(gate, forged_sa)).reason == "unknown_kid"
    forged_idp = sign(keys.rsa_other, claims(), kid="sa1")
    assert (await refused(gate, forged_idp)).reason == "unknown_kid"
    # the right kid but the other issuer's key material
    forged = sign(keys.rsa, sa_claims(), kid="sa1")
    assert (await refused(gate, forged)).reason == "bad_signature"
    # one refetch for the unknown kid, then the cooldown
    assert api.calls.count(API_SERVER + "/openid/v1/jwks") == calls + 1


async def test_verifier_routes_only_configured_issuers(idp: MemoryIdP, keys: Keys) -> None:
    doc = base_document()
    doc["issuers"] = [SA_ENTRY]
    config = parse_config(doc)
    cache = KeyCache(ISSUER, idp, FAST_KEYS)
    await cache.refresh()
    verifier = TokenVerifier(config, {ISSUER: cache})  # the SA cache is missing
    with pytest.raises(InvalidToken) as info:
        await verifier.verify(sign(keys.rsa_other, sa_claims(), kid="sa1"))
    assert info.value.reason == "bad_issuer"


def config_errors(*entries: dict[str, Any], **top: Any) -> list[str]:
    doc = base_document(**top)
    doc["issuers"] = list(entries)
    with pytest.raises(ConfigError) as info:
        parse_config(doc)
    return info.value.errors


def test_config_errors_are_collected() -> None:
    no_list = {**SA_ENTRY, "kubernetes": {"api_server": API_SERVER}}
    errors = config_errors(no_list)
    assert any("issuers[0].kubernetes.allowed_service_accounts: required" in e for e in errors)

    scopeless = {**SA_ENTRY, "kubernetes": {"allowed_service_accounts": [{"namespace": "x"}]}}
    errors = config_errors(scopeless)
    assert any("allowed_service_accounts[0].scopes: required" in e for e in errors)

    errors = config_errors(
        {**SA_ENTRY, "issuer": ISSUER},
        {**SA_ENTRY, "name": "cluster", "claims": {"principal": "{namespace}-{pod}"}},
        {"name": "Bad Name", "kind": "oidk", "issuer": "http://idp.example", "audience": [""]},
        {"name": "x", "issuer": "https://x.example", "kubernetes": {"api_server": "https://a"}},
    )
    text = "\n".join(errors)
    assert "issuers[0].issuer: 'https://idp.test/realms/platform' is already accepted" in text
    assert "issuers[1].name: 'cluster' is already used by issuers[0]" in text
    assert "issuers[1].claims.principal: unknown template field(s) 'pod'" in text
    assert "issuers[2].name: required" in text
    assert (
        "issuers[2].kind: must be one of oidc, kubernetes, access_key (did you mean 'oidc'?)"
    ) in text
    assert "issuers[2].issuer: must use https" in text
    assert "issuers[2].audience[0]: must not be empty" in text
    assert "issuers[3].kubernetes: applies to kind kubernetes only" in text

    no_audience = {**SA_ENTRY, "audience": []}
    errors = config_errors(no_audience, oidc__audience=[], oidc__client_id="")
    assert any("issuers[0].audience: required" in e for e in errors)


def test_entry_defaults_and_round_trip() -> None:
    from authgate.core.config import config_to_document

    doc = base_document()
    doc["issuers"] = [
        {
            "name": "cluster",
            "kind": "kubernetes",
            "issuer": SA_ISSUER,
            "kubernetes": {
                "allowed_service_accounts": [{"namespace": "jobs", "scopes": ["platform:read"]}]
            },
        }
    ]
    config = parse_config(doc)
    entry = config.issuers[0]
    assert entry.effective_ca_file == "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"
    assert entry.effective_token_file == "/var/run/secrets/kubernetes.io/serviceaccount/token"
    assert entry.effective_discovery_url == (
        "https://kubernetes.default.svc/.well-known/openid-configuration"
    )
    assert entry.effective_jwks_uri == "https://kubernetes.default.svc/openid/v1/jwks"
    assert entry.kubernetes.allowed_service_accounts[0].name == "*"
    assert parse_config(config_to_document(config)) == config
    anonymous = parse_config({**doc, "issuers": [{**doc["issuers"][0], "token_file": ""}]})
    assert anonymous.issuers[0].effective_token_file is None


def test_discovery_publishes_what_the_platform_accepts() -> None:
    from authgate.core.discovery import discovery_document
    from authgate.core.oidc import ProviderMetadata

    config = parse_config(
        base_document(
            oidc__request_resource="https://api.example/", oidc__request_audience="platform-api"
        )
    )
    # Restarted while the IdP is unreachable: no metadata, and the document says why.
    unknown = discovery_document(config, None)["oidc"]
    assert unknown["token_endpoint"] is None
    assert "cannot currently reach its identity provider" in unknown["endpoints_unknown"]
    assert unknown["accepted_audiences"] == [AUDIENCE]
    assert unknown["token_request_params"] == {
        "resource": "https://api.example/",
        "audience": "platform-api",
    }
    meta = ProviderMetadata(
        issuer=ISSUER,
        jwks_uri=ISSUER + "/certs",
        token_endpoint=ISSUER + "/token",
        revocation_endpoint=ISSUER + "/revoke",
    )
    known = discovery_document(config, meta)["oidc"]
    assert "endpoints_unknown" not in known and known["revocation_endpoint"] == ISSUER + "/revoke"
    with pytest.raises(ConfigError) as info:
        parse_config(base_document(oidc__request_resource="not a uri#x"))
    assert "oidc.request_resource: must be an absolute URI" in str(info.value)


def test_skipped_jwks_keys_are_named() -> None:
    from authgate.core.oidc import parse_jwks

    skipped: list[str] = []
    body = json.dumps(
        {
            "keys": [
                {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
                {"kty": "RSA", "kid": "enc1", "use": "enc", "n": "x", "e": "AQAB"},
                {"kty": "RSA", "kid": "ops", "key_ops": ["encrypt"], "n": "x", "e": "AQAB"},
            ]
        }
    ).encode()
    assert parse_jwks(body, skipped) == {}
    assert skipped == [
        "kid 'hmac': kty 'oct' is not RSA, EC or OKP",
        "kid 'enc1': use 'enc' is not 'sig'",
        "kid 'ops': key_ops does not include 'verify'",
    ]

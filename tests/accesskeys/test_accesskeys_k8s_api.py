"""The access-key API on real parts: the operator on the real kube-apiserver,
Keycloak users as callers (alice: platform-admins; bob: developers; carol: none).

Covers the lifecycle and every rule of issue #17 at the API, the AccessKey
objects it writes (hash only, printer-column phase), the revocation list with
ETag/304, and bad input: always a JSON 4xx, never a 500.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import httpx
import pytest
from kubernetes import client

from tests.accesskeys.ak_helpers import API, AccessKeyApi, eventually, provider_spec, user_token

pytestmark = pytest.mark.timeout(300)
GROUP, VERSION = "authgate.io", "v1alpha1"


@pytest.fixture
def env(
    kube: Any, keycloak: Any, ak_namespace: str, providers: Any, operator_factory: Any
) -> dict[str, Any]:
    providers.create("corp", provider_spec(keycloak, maxExpirySeconds=86400))
    op = operator_factory(ak_namespace)
    api = AccessKeyApi(op)
    tokens = {u: user_token(keycloak, u) for u in ("alice", "bob", "carol")}
    eventually(lambda: api.ready(tokens["alice"]), timeout=60, what="access-key API up")
    return {"op": op, "api": api, "tokens": tokens, "ns": ak_namespace}


def _object(kube: Any, ns: str, jti: str) -> dict[str, Any]:
    custom = client.CustomObjectsApi(kube.api_client())
    return dict(
        custom.get_namespaced_custom_object(GROUP, VERSION, ns, "accesskeys", "ak-" + jti[3:])
    )


def _revoked(op: Any, ns: str) -> list[str]:
    url = f"{op.base_url}/apis/auth/v2/issuers/{ns}/corp/revocations"
    return list(httpx.get(url, timeout=5).json()["revoked"])


def test_lifecycle_and_the_stored_object(kube: Any, env: dict[str, Any]) -> None:
    api, alice, ns = env["api"], env["tokens"]["alice"], env["ns"]
    created = api.create(
        alice, name="ci", scope=["platform:read"], expires_in_seconds=3600, description="nightly"
    )
    jti, token = created["jti"], created["token"]
    assert re.fullmatch(r"ak_[0-9a-f]{32}", jti) and "once" in created["warning"]
    assert created["status"] == "Active" and created["scope"] == ["platform:read"]
    assert created["principal"] == created["created_by"] and created["audiences"]
    assert created["issuer"].endswith(f"/apis/auth/v2/issuers/{ns}/corp")
    assert created["expires_at"] and created["provider"] == f"{ns}/corp"

    obj = _object(kube, ns, jti)
    assert obj["spec"]["tokenHash"] == "sha256:" + hashlib.sha256(token.encode()).hexdigest()
    assert token not in json.dumps(obj) and token.split(".")[2] not in json.dumps(obj)
    assert obj["status"]["phase"] == "Active"

    got = api.call("GET", f"/{jti}", alice).json()
    assert "token" not in got and got["jti"] == jti
    for _ in range(2):
        api.create(alice, name="more")
    page = api.call("GET", token=alice, params={"page": "1", "page_size": "2"}).json()
    assert page["total"] == 3 and len(page["items"]) == 2 and page["page_size"] == 2
    page2 = api.call("GET", token=alice, params={"page": "2", "page_size": "2"}).json()
    assert len(page2["items"]) == 1
    assert {k["jti"] for k in page["items"] + page2["items"]} >= {jti}

    assert api.call("POST", f"/{jti}/suspend", alice).json()["status"] == "Suspended"
    assert jti in _revoked(env["op"], ns)
    assert _object(kube, ns, jti)["status"]["phase"] == "Suspended"
    assert api.call("POST", f"/{jti}/suspend", alice).status_code == 409
    assert api.call("POST", f"/{jti}/unsuspend", alice).json()["status"] == "Active"
    assert jti not in _revoked(env["op"], ns)
    assert api.call("DELETE", f"/{jti}", alice).json()["status"] == "Revoked"
    assert api.call("DELETE", f"/{jti}", alice).status_code == 200  # idempotent
    assert jti in _revoked(env["op"], ns)
    assert _object(kube, ns, jti)["status"]["phase"] == "Revoked"
    rsp = api.call("POST", f"/{jti}/unsuspend", alice)
    assert rsp.status_code == 409 and rsp.json()["error"] == "invalid_state"
    rsp = api.call("POST", f"/{jti}/rotate", alice)
    assert rsp.status_code == 409 and rsp.json()["error"] == "not_active"
    text = kube.kubectl("get", "accesskeys", "-n", ns).stdout  # the printer columns (docs)
    print("\n$ kubectl get accesskeys -n", ns, "\n" + text)
    assert "Revoked" in text and "Active" in text


def test_rotation_at_the_api(env: dict[str, Any]) -> None:
    api, bob = env["api"], env["tokens"]["bob"]
    old = api.create(bob, name="rot", expires_in_seconds=7200)
    rsp = api.call("POST", f"/{old['jti']}/rotate", bob, body={"grace_period_seconds": 10**6})
    assert rsp.status_code == 422 and rsp.json()["error"] == "invalid_grace"
    rsp = api.call("POST", f"/{old['jti']}/rotate", bob, body={"grace_period_seconds": 30})
    assert rsp.status_code == 201, rsp.text
    new = rsp.json()
    assert new["token"] and new["jti"] != old["jti"] and new["rotated_from"] == old["jti"]
    assert new["previous"]["status"] == "Rotating" and new["previous"]["grace_expires_at"]
    assert new["previous"]["rotated_to"] == new["jti"]
    assert api.call("POST", f"/{old['jti']}/rotate", bob).status_code == 409  # rotating already


def test_the_rules(env: dict[str, Any]) -> None:
    api, tokens = env["api"], env["tokens"]
    alice, bob, carol = tokens["alice"], tokens["bob"], tokens["carol"]
    rsp = api.call("POST", token=bob, body={"name": "x", "scope": ["platform:read", "admin"]})
    assert rsp.status_code == 403 and rsp.json()["error"] == "scope_escalation"
    rsp = api.call("POST", token=bob, body={"name": "x", "service_account": "robot"})
    assert rsp.status_code == 403 and rsp.json()["error"] == "not_admin"
    bound = api.create(alice, name="robot", service_account="robot", scope=["platform:read"])
    assert bound["principal"] == f"system:serviceaccount:{env['ns']}:robot"
    assert bound["service_account"] == f"{env['ns']}/robot"
    rsp = api.call("POST", token=bob, body={"name": "x", "expires_in_seconds": 86401})
    assert rsp.status_code == 422 and rsp.json()["error"] == "invalid_expiry"
    rsp = api.call("POST", token=bob, body={"name": "x", "expires_in_seconds": 0})
    assert rsp.status_code == 422 and "never expire" in rsp.json()["description"]
    default = api.create(bob, name="dflt")
    assert default["scope"] == ["platform:read", "platform:write"] or set(default["scope"]) == {
        "platform:read",
        "platform:write",
    }
    # visibility: owners and admins only; to others a key does not exist
    assert api.call("GET", f"/{default['jti']}", carol).status_code == 404
    assert api.call("DELETE", f"/{default['jti']}", carol).status_code == 404
    assert api.call("GET", f"/{default['jti']}", alice).status_code == 200  # admin
    assert api.call("GET", token=carol).json()["total"] == 0
    assert api.call("GET", token=alice).json()["total"] >= 2
    # an access key cannot manage access keys
    rsp = api.call("GET", token=default["token"])
    assert rsp.status_code == 403 and rsp.json()["error"] == "access_key_not_allowed"


def test_bad_input_is_a_json_4xx(env: dict[str, Any]) -> None:
    api, bob = env["api"], env["tokens"]["bob"]
    cases: list[tuple[str, str, dict[str, Any], int]] = [
        ("GET", "/ak_" + "0" * 32, {}, 404),
        ("GET", "/not-a-jti", {}, 404),
        ("DELETE", "/ak_" + "f" * 32, {}, 404),
        ("POST", "/ak_" + "0" * 32 + "/explode", {}, 404),
        ("PUT", "", {}, 405),
        ("PATCH", "/ak_" + "0" * 32, {}, 405),
        ("POST", "", {"raw": b"{not json"}, 400),
        ("POST", "", {"raw": b"[1,2]"}, 400),
        ("POST", "", {"raw": b"\xff\xfe"}, 400),
        ("POST", "", {"body": {"name": "x", "expires_in_seconds": "soon"}}, 400),
        ("POST", "", {"body": {"name": "x", "expires_in_seconds": 1.5}}, 400),
        ("POST", "", {"body": {"name": "x", "expires_in_seconds": 10**30}}, 422),
        ("POST", "", {"body": {"name": "n" * 5000}}, 400),
        ("POST", "", {"body": {"name": "x", "description": "d" * 100_000}}, 413),
        ("POST", "", {"raw": b" " * 20_000}, 413),
        ("POST", "", {"body": {"name": "x", "bogus": 1}}, 400),
        ("GET", "", {"params": {"page": "-1"}}, 400),
        ("GET", "", {"params": {"page_size": "100000"}}, 400),
    ]
    for method, path, extra, status in cases:
        rsp = api.call(method, path, bob, **extra)
        assert rsp.status_code == status, (method, path, rsp.status_code, rsp.text[:200])
        body = rsp.json()
        assert body["error"] and body["description"], body
    rsp = api.call("GET")  # no token
    assert rsp.status_code == 401 and rsp.headers["WWW-Authenticate"].startswith("Bearer")
    rsp = api.call("GET", token="garbage.token.here")
    assert rsp.status_code == 401 and rsp.json()["error"] == "invalid_token"
    assert "garbage" not in rsp.text
    rsp = api.call("GET", headers={"Authorization": "Basic Ym9iOnB3"})
    assert rsp.status_code == 401


def test_revocation_list_is_polled_with_etags(env: dict[str, Any]) -> None:
    op, ns, api, bob = env["op"], env["ns"], env["api"], env["tokens"]["bob"]
    issuer = f"{op.base_url}/apis/auth/v2/issuers/{ns}/corp"
    meta = httpx.get(f"{issuer}/.well-known/openid-configuration", timeout=5).json()
    assert meta["issuer"] == issuer and meta["jwks_uri"] == f"{issuer}/jwks"
    jwks = httpx.get(meta["jwks_uri"], timeout=5).json()
    assert jwks["keys"] and all(k["kty"] == "EC" and "d" not in k for k in jwks["keys"])
    first = httpx.get(f"{issuer}/revocations", timeout=5)
    etag = first.headers["ETag"]
    again = httpx.get(f"{issuer}/revocations", headers={"If-None-Match": etag}, timeout=5)
    assert again.status_code == 304 and not again.content
    key = api.create(bob, name="gone")
    api.call("DELETE", f"/{key['jti']}", bob)
    changed = httpx.get(f"{issuer}/revocations", headers={"If-None-Match": etag}, timeout=5)
    assert changed.status_code == 200 and key["jti"] in changed.json()["revoked"]
    assert changed.headers["ETag"] != etag


def test_feature_off_is_404(
    keycloak: Any, ak_namespace: str, providers: Any, operator_factory: Any
) -> None:
    from tests.accesskeys.ak_helpers import keycloak_spec

    providers.create("plain", keycloak_spec(keycloak))
    op = operator_factory(ak_namespace)
    token = user_token(keycloak, "bob")
    eventually(lambda: op.discovery().status_code == 200, what="discovery")
    for method, path in (
        ("GET", API),
        ("POST", API),
        ("GET", API + "/ak_" + "0" * 32),
        ("GET", f"/apis/auth/v2/issuers/{ak_namespace}/plain/jwks"),
        ("GET", f"/apis/auth/v2/issuers/{ak_namespace}/plain/revocations"),
    ):
        rsp = httpx.request(
            method, op.base_url + path, timeout=5, headers={"Authorization": f"Bearer {token}"}
        )
        assert rsp.status_code == 404 and rsp.json()["error"] == "not_found", (path, rsp.text)


def test_phase_refresh_and_garbage_collection(
    kube: Any, keycloak: Any, ak_namespace: str, providers: Any, operator_factory: Any
) -> None:
    """A key that expired is shown Expired; one that stopped working longer ago than
    retentionSeconds (default 7 days) is deleted."""
    import time

    from authgate.operator.accesskeys.model import AccessKeyRecord, new_jti

    providers.create("corp", provider_spec(keycloak))
    custom = client.CustomObjectsApi(kube.api_client())
    now = time.time()

    def planted(expired_ago: float) -> AccessKeyRecord:
        record = AccessKeyRecord(
            jti=new_jti(),
            namespace=ak_namespace,
            provider="corp",
            name="old",
            description="",
            principal="bob",
            email=None,
            groups=(),
            service_account=None,
            created_by="bob",
            scopes=("platform:read",),
            audiences=("api://authgate",),
            issuer="http://x",
            token_hash="sha256:00",
            signing_kid="gone",
            created_at=now - expired_ago - 3600,
            expires_at=now - expired_ago,
        )
        manifest = record.manifest(now - expired_ago - 60)  # written while still Active
        custom.create_namespaced_custom_object(GROUP, VERSION, ak_namespace, "accesskeys", manifest)
        return record

    recent, ancient = planted(7200), planted(8 * 86400)
    op = operator_factory(ak_namespace, "--access-key-gc-interval", "1")
    assert op.alive()
    eventually(
        lambda: _object(kube, ak_namespace, recent.jti)["status"]["phase"] == "Expired",
        timeout=30,
        what="phase refreshed to Expired",
    )

    def gone() -> bool:
        try:
            _object(kube, ak_namespace, ancient.jti)
        except client.ApiException as exc:
            return exc.status == 404
        return False

    eventually(gone, timeout=30, what="expired key garbage-collected after retention")
    assert _object(kube, ak_namespace, recent.jti)  # inside retention: kept

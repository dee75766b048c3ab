"""Access keys without a cluster: the rules, the record's phases, the signing-key
rotation plan, the revocation list and the sidecar's fail-closed state."""

from __future__ import annotations

import json

import jwt
import pytest

from authgate.core.errors import InvalidToken
from authgate.core.revocation import RevocationList, RevocationListError
from authgate.operator.accesskeys.model import AccessKeyRecord, new_jti, object_name, token_hash
from authgate.operator.accesskeys.policy import AccessKeyPolicy, policy_of
from authgate.operator.accesskeys.requests import (
    ApiError,
    check_expiry,
    check_scopes,
    parse_create,
    parse_json_body,
    parse_paging,
    parse_rotate,
)
from authgate.operator.accesskeys.signing import SigningKeySet, mint
from authgate.operator.accesskeys.store import AccessKeyIndex, revocation_document

ISSUER = "http://127.0.0.1:1/apis/auth/v2/issuers/ns/corp"


def record(**changes: object) -> AccessKeyRecord:
    base = AccessKeyRecord(
        jti=new_jti(),
        namespace="ns",
        provider="corp",
        name="ci",
        description="",
        principal="alice",
        email="alice@example.com",
        groups=("dev",),
        service_account=None,
        created_by="alice",
        scopes=("platform:read",),
        audiences=("api://x",),
        issuer=ISSUER,
        token_hash="sha256:00",
        signing_kid="k1",
        created_at=1000.0,
        expires_at=5000.0,
    )
    from dataclasses import replace

    return replace(base, **changes)  # type: ignore[arg-type]


# -- policy and request checks --------------------------------------------------------


def test_policy_defaults_and_disabled_maximum() -> None:
    assert policy_of({}).enabled is False
    p = policy_of(
        {
            "accessKeys": {
                "enabled": True,
                "maxExpirySeconds": 3600,
                "defaultExpirySeconds": 7200,
                "adminGroups": ["admins"],
            }
        }
    )
    assert p.enabled and p.effective_default_expiry() == 3600  # never above the maximum
    assert p.is_admin(("admins", "x")) and not p.is_admin(("x",))
    assert not AccessKeyPolicy(admin_groups=()).is_admin(("admins",))
    with pytest.raises(ApiError) as err:
        check_expiry(0, p)
    assert err.value.status == 422 and "never expire" in err.value.description
    assert check_expiry(0, AccessKeyPolicy(max_expiry_seconds=0)) is None  # explicitly disabled
    with pytest.raises(ApiError):
        check_expiry(3601, p)
    with pytest.raises(ApiError):
        check_expiry(59, p)
    assert check_expiry(None, p) == 3600 and check_expiry(600, p) == 600


def test_scopes_are_a_subset_of_the_creators() -> None:
    held = ("openid", "platform:read", "platform:write")
    assert check_scopes(None, held) == ("platform:read", "platform:write")  # no OIDC scopes
    assert check_scopes(("platform:read",), held) == ("platform:read",)
    with pytest.raises(ApiError) as err:
        check_scopes(("platform:read", "admin:all"), held)
    assert err.value.status == 403 and err.value.error == "scope_escalation"
    with pytest.raises(ApiError):
        check_scopes(None, ("openid",))


@pytest.mark.parametrize(
    "body, fragment",
    [
        ({}, "'name' is required"),
        ({"name": ""}, "'name' must be"),
        ({"name": "x" * 64}, "longer than 63"),
        ({"name": "ci", "expires_in": 5}, "unknown field"),
        ({"name": "ci", "expires_in_seconds": "30d"}, "integer"),
        ({"name": "ci", "expires_in_seconds": True}, "integer"),
        ({"name": "ci", "expires_in_seconds": -1}, "negative"),
        ({"name": "ci", "scope": 5}, "'scope' must be"),
        ({"name": "ci", "scope": ["a b"]}, "visible ASCII"),
        ({"name": "ci", "scope": []}, "empty"),
        ({"name": "ci", "scope": ["s"] * 33}, "more than 32"),
        ({"name": "ci", "description": "\x00"}, "control characters"),
        ({"name": "ci", "service_account": "Bad_Name"}, "DNS labels"),
    ],
)
def test_bad_create_bodies_are_400(body: dict[str, object], fragment: str) -> None:
    with pytest.raises(ApiError) as err:
        parse_create(body, "ns")
    assert err.value.status == 400 and fragment in err.value.description


def test_create_body_parsing() -> None:
    req = parse_create({"name": "ci", "scope": "a b a", "service_account": "bot"}, "ns")
    assert req.scopes == ("a", "b") and req.service_account == ("ns", "bot")
    assert parse_create({"name": "ci", "service_account": "other/bot"}, "ns").service_account == (
        "other",
        "bot",
    )
    assert parse_rotate({"grace_period_seconds": 10}).grace_period_seconds == 10
    for raw in (b"[1]", b"{", b"\xff", b'"x"'):
        with pytest.raises(ApiError):
            parse_json_body(raw)
    assert parse_json_body(b"  ") == {}
    assert parse_paging({}) == (1, 20)
    for bad in ({"page": "0"}, {"page_size": "101"}, {"page": "x"}, {"page": "9" * 12}):
        with pytest.raises(ApiError):
            parse_paging(bad)


# -- the record ----------------------------------------------------------------------


def test_phases() -> None:
    r = record()
    assert r.phase(2000) == "Active" and r.phase(5000) == "Expired"
    assert r.with_state("Suspended", 2000).phase(2100) == "Suspended"
    assert r.with_state("Revoked", 2000).phase(2100) == "Revoked"
    rotating = record(grace_until=3000.0, rotated_to=new_jti())
    assert rotating.phase(2999) == "Rotating" and rotating.phase(3000) == "Revoked"
    assert rotating.refused(3000) and not rotating.refused(2999)
    assert record(expires_at=None).phase(10**12) == "Active"


def test_manifest_round_trip_keeps_no_token() -> None:
    r = record(rotated_from=new_jti(), grace_until=3000.0)
    obj = r.manifest(2000)
    assert obj["metadata"]["name"] == object_name(r.jti) and "_" not in obj["metadata"]["name"]
    assert obj["status"]["phase"] == "Rotating"
    back = AccessKeyRecord.from_object(obj)
    assert back is not None
    assert back == record(
        jti=r.jti, rotated_from=r.rotated_from, grace_until=3000.0, stored_phase="Rotating"
    )
    assert token_hash("abc").startswith("sha256:") and "abc" not in token_hash("abc")
    obj["spec"]["state"] = "Bogus"  # an unknown state fails closed
    bogus = AccessKeyRecord.from_object(obj)
    assert bogus is not None and bogus.phase(2000) == "Revoked"


def test_index_keeps_local_writes_newer_than_a_relist() -> None:
    index = AccessKeyIndex()
    a = record()
    index.replace_all([a], started=0.0)
    import time

    started = time.monotonic()
    revoked = a.with_state("Revoked", 2000)
    index.put(revoked)
    index.replace_all([a], started=started)  # a list that began before the write
    assert index.get(a.jti) == revoked
    index.replace_all([a], started=time.monotonic() + 1)  # a later list wins
    assert index.get(a.jti) == a


# -- signing keys --------------------------------------------------------------------


def test_signing_key_rotation_with_overlap() -> None:
    keys = SigningKeySet.initial(0.0)
    first = keys.signer(0.0)
    assert keys.planned(10.0, rotation_seconds=100, prepublish_seconds=5, in_use=()) is None
    step = keys.planned(100.0, rotation_seconds=100, prepublish_seconds=5, in_use=())
    assert step is not None and len(step.keys) == 2
    assert step.signer(100.0) is step.keys[0]  # published, not signing yet
    assert step.signer(105.0) is step.keys[1]
    # the old key stays while a live key uses it, and briefly after the switch anyway
    assert step.planned(106.0, rotation_seconds=100, prepublish_seconds=5, in_use=()) is None
    kept = step.planned(200.0, rotation_seconds=1000, prepublish_seconds=5, in_use={first.kid})
    assert kept is None
    gone = step.planned(200.0, rotation_seconds=1000, prepublish_seconds=5, in_use=())
    assert gone is not None and gone.kids() == (step.keys[1].kid,)
    again = SigningKeySet.from_secret(
        {"data": step.secret_data(), "metadata": {"resourceVersion": "7"}}
    )
    assert again is not None and again.kids() == step.kids() and again.resource_version == "7"


def test_minted_token_verifies_with_the_published_jwk() -> None:
    keys = SigningKeySet.initial(0.0)
    token = mint({"sub": "alice", "exp": 4102444800}, keys.signer(0.0))
    header = jwt.get_unverified_header(token)
    assert header["typ"] == "at+jwt" and header["kid"] == keys.kids()[0]
    public = jwt.PyJWK(keys.jwks()["keys"][0]).key
    assert jwt.decode(token, public, algorithms=["ES256"])["sub"] == "alice"
    assert "PRIVATE" not in json.dumps(keys.jwks()) and "d" not in keys.jwks()["keys"][0]


# -- the revocation list, both ends ----------------------------------------------------


def test_revocation_document_lists_only_what_must_be_refused() -> None:
    live, revoked, suspended = (
        record(),
        record().with_state("Revoked", 1500),
        record().with_state("Suspended", 1500),
    )
    expired_long_ago = record(expires_at=1100.0).with_state("Revoked", 1050)
    other_kid = record(signing_kid="gone").with_state("Revoked", 1500)
    body, etag = revocation_document(
        ISSUER, [live, revoked, suspended, expired_long_ago, other_kid], ["k1"], 2000.0
    )
    doc = json.loads(body)
    assert sorted(doc["revoked"]) == sorted([revoked.jti, suspended.jti])
    assert doc["kids"] == ["k1"] and doc["issuer"] == ISSUER
    again, etag2 = revocation_document(ISSUER, [suspended, revoked], ["k1"], 2500.0)
    assert etag2 == etag and again == body  # no timestamps: unchanged lists keep their ETag


def test_sidecar_revocation_state_fails_closed() -> None:
    now = [0.0]
    rl = RevocationList(ISSUER, 10, clock=lambda: now[0])
    with pytest.raises(InvalidToken) as err:
        rl.check(new_jti())
    assert err.value.reason == "revocations_unavailable"
    jti = new_jti()
    body = json.dumps({"issuer": ISSUER, "kids": ["k1"], "revoked": [jti]}).encode()
    assert rl.apply(body, '"e1"') is True  # kids changed: refresh the JWKS
    rl.check(new_jti())
    with pytest.raises(InvalidToken) as err:
        rl.check(jti)
    assert err.value.reason == "key_revoked" and err.value.status == 401
    assert rl.apply(body, '"e1"') is False
    now[0] = 10.5
    with pytest.raises(InvalidToken) as err:
        rl.check(new_jti())
    assert err.value.reason == "revocations_stale"
    rl.confirm()  # a 304
    rl.check(new_jti())
    for bad in (
        b"nope",
        json.dumps({"issuer": "other", "revoked": []}).encode(),
        json.dumps({"issuer": ISSUER, "revoked": ["x"]}).encode(),
    ):
        with pytest.raises(RevocationListError):
            rl.apply(bad, None)
    with pytest.raises(InvalidToken):
        rl.check(jti)  # the good list was kept

"""Gateway mode in the core (pure): reading the original request from each
gateway flavour, the trusted-peer refusal, the authenticate answer, and the
decision cache's rules (per credential, bounded by exp, no-store)."""

from __future__ import annotations

import json
from collections.abc import Awaitable
from typing import Any

import pytest

from authgate.core.decision_cache import DecisionCache, cache_key, forbids_caching
from authgate.core.errors import AuthError, InvalidRequest
from authgate.core.gate import Gate
from authgate.core.gatekeeper import Gatekeeper, Verdict
from authgate.core.gateway import Flavour, principal_document, read_original
from authgate.core.keys import KeyCache
from authgate.core.principal import Principal
from tests.support.fetchers import MemoryIdP

from .core_helpers import FAST_KEYS, ISSUER, Clock, Keys, claims, make_config, sign

NGINX, FWD, ENVOY = Flavour.NGINX, Flavour.FORWARD_AUTH, Flavour.ENVOY
PREFIX = "/apis/auth/ext-authz"


async def make_keeper(idp: MemoryIdP, **overrides: Any) -> Gatekeeper:
    config = make_config(**overrides)
    cache = KeyCache(ISSUER, idp, FAST_KEYS)
    await cache.refresh()
    return Gatekeeper(Gate.from_config(config, {ISSUER: cache}), config.gateway)


def fwd(uri: str = "/apis/x", method: str = "GET", **extra: str) -> list[tuple[str, str]]:
    out = [
        ("X-Forwarded-Method", method),
        ("X-Forwarded-Uri", uri),
        ("X-Forwarded-Host", "api.example.com"),
        ("X-Forwarded-Proto", "https"),
    ]
    return out + [(k.replace("_", "-"), v) for k, v in extra.items()]


# -- reading the original request -------------------------------------------------


def test_each_flavour_reads_its_own_headers() -> None:
    nginx = read_original(
        NGINX,
        "GET",
        "/apis/auth/check",
        [
            ("X-Original-Method", "POST"),
            ("X-Original-URI", "/apis/files?a=1"),
            ("X-Forwarded-Uri", "/public/"),
        ],
    )
    assert (nginx.method, nginx.target, nginx.host) == ("POST", "/apis/files?a=1", None)
    forward = read_original(FWD, "GET", "/apis/auth/forward-auth", fwd("/a/b", "DELETE"))
    assert (forward.method, forward.target, forward.host, forward.proto) == (
        "DELETE",
        "/a/b",
        "api.example.com",
        "https",
    )
    envoy = read_original(
        ENVOY, "PUT", PREFIX + "/apis/files/1?x", [("Host", "api:8443")], envoy_prefix=PREFIX
    )
    assert (envoy.method, envoy.target, envoy.host) == ("PUT", "/apis/files/1?x", "api:8443")


def test_ingress_nginx_original_url() -> None:
    got = read_original(
        NGINX,
        "GET",
        "/c",
        [("X-Original-Method", "GET"), ("X-Original-URL", "https://h.example:8443/a?q=1")],
    )
    assert (got.target, got.host, got.proto) == ("/a?q=1", "h.example:8443", "https")
    bare = read_original(
        NGINX, "GET", "/c", [("X-Original-Method", "GET"), ("X-Original-URL", "http://h")]
    )
    assert bare.target == "/"


@pytest.mark.parametrize(
    ("flavour", "headers", "target"),
    [
        (NGINX, [("X-Original-URI", "/a")], "/c"),  # no method
        (NGINX, [("X-Original-Method", "GET")], "/c"),  # no URI at all
        (
            NGINX,
            [
                ("X-Original-Method", "GET"),
                ("X-Original-URI", "/a"),
                ("X-Original-URI", "/public/"),
            ],
            "/c",
        ),  # repeated: which one?
        (
            NGINX,
            [
                ("X-Original-Method", "GET"),
                ("X-Original-URI", "/public/x"),
                ("X-Original-URL", "https://h/admin"),
            ],
            "/c",
        ),  # the two disagree
        (NGINX, [("X-Original-Method", "GET"), ("X-Original-URI", "http://evil/a")], "/c"),
        (NGINX, [("X-Original-Method", "GE T"), ("X-Original-URI", "/a")], "/c"),
        (NGINX, [("X-Original-Method", "GET"), ("X-Original-URI", "/a b")], "/c"),
        (NGINX, [("X-Original-Method", "GET"), ("X-Original-URI", "")], "/c"),
        (
            NGINX,
            [("X-Original-Method", "GET"), ("X-Original-URL", "https://u:p@h/a")],
            "/c",
        ),  # userinfo
        (NGINX, [("X-Original-Method", "GET"), ("X-Original-URL", "ftp://h/a")], "/c"),
        (NGINX, [("X-Original-Method", "GET"), ("X-Original-URL", "https://h/a#f")], "/c"),
        (FWD, fwd()[:3], "/c"),  # no proto
        (FWD, fwd(X_Forwarded_Uri="/public/"), "/c"),  # a second X-Forwarded-Uri
        (FWD, [*fwd()[:3], ("X-Forwarded-Proto", "https, http")], "/c"),
        (FWD, [*fwd()[:3], ("X-Forwarded-Proto", "gopher")], "/c"),
        (FWD, [*fwd()[:2], ("X-Forwarded-Host", "a/b"), fwd()[3]], "/c"),
        (FWD, [*fwd()[:2], ("X-Forwarded-Host", "a b"), fwd()[3]], "/c"),
        (ENVOY, [("Host", "h")], "/apis/other/x"),  # not under the prefix
        (ENVOY, [("Host", "h")], PREFIX),  # no original path
        (ENVOY, [("Host", "h")], PREFIX + "x/y"),  # prefix matched mid-segment
        (ENVOY, [("Host", "h"), ("Host", "g")], PREFIX + "/x"),
    ],
)
def test_missing_or_malformed_is_refused(
    flavour: Flavour, headers: list[tuple[str, str]], target: str
) -> None:
    with pytest.raises(InvalidRequest) as info:
        read_original(flavour, "GET", target, headers, envoy_prefix=PREFIX)
    assert info.value.reason == "invalid_gateway_request" and info.value.status == 400


def test_underscore_spelling_counts_as_the_same_header() -> None:
    """``X_Forwarded_Uri`` is the same header to an upstream that folds ``_``:
    it must count as a second value, not be ignored."""
    with pytest.raises(InvalidRequest):
        read_original(FWD, "GET", "/c", [*fwd(), ("X_Forwarded_Uri", "/public/")])


# -- the check answers ---------------------------------------------------------------


async def outcome(keeper: Gatekeeper, call: Awaitable[Verdict]) -> tuple[int, Verdict | AuthError]:
    """(200, verdict) for an allow, (status, error) for a denial."""
    try:
        verdict = await call
    except AuthError as exc:
        return exc.status, exc
    return 200, verdict


async def test_check_untrusted_peer_is_refused(idp: MemoryIdP, keys: Keys) -> None:
    keeper = await make_keeper(idp)
    token = sign(keys.rsa, claims())
    status, err = await outcome(
        keeper,
        keeper.check(
            FWD, "GET", "/c", [*fwd(), ("Authorization", f"Bearer {token}")], trusted_peer=False
        ),
    )
    assert status == 403 and isinstance(err, AuthError) and err.reason == "untrusted_gateway"
    assert err.www_authenticate("authgate") is not None


async def test_check_verdicts_are_the_gates(idp: MemoryIdP, keys: Keys) -> None:
    keeper = await make_keeper(
        idp,
        authorization__rules=[{"path_prefix": "/apis/admin", "read_scopes": ["platform:admin"]}],
    )
    auth = ("Authorization", f"Bearer {sign(keys.rsa, claims())}")

    async def status(uri: str, *extra: tuple[str, str], method: str = "GET") -> int:
        call = keeper.check(FWD, "GET", "/c", [*fwd(uri, method), *extra], trusted_peer=True)
        return (await outcome(keeper, call))[0]

    assert await status("/apis/x") == 401
    assert await status("/apis/x", auth) == 200
    assert await status("/apis/admin/users", auth) == 403
    assert await status("/apis/auth/discovery") == 200  # public, no token
    assert await status("/apis/auth/discovery/../../apis/admin", auth) == 400
    assert await status("/apis/%2e%2e/admin", auth) == 400
    assert await status("/apis/x?access_token=abc", auth) == 400
    ok = await keeper.check(FWD, "GET", "/c", [*fwd(), auth], trusted_peer=True)
    assert dict(ok.identity)["X-NMP-Principal-Id"] == "user-1"
    public = await keeper.check(FWD, "GET", "/c", [*fwd("/healthz"), auth], trusted_peer=True)
    assert public.principal is None and public.identity == ()


async def test_authenticate_answers_identity(idp: MemoryIdP, keys: Keys) -> None:
    keeper = await make_keeper(
        idp,
        authorization__rules=[{"path_prefix": "/apis/auth", "read_scopes": ["nothing-has-this"]}],
    )
    token = sign(keys.rsa, claims(scope="openid other:thing"))
    verdict = await keeper.authenticate(
        "/apis/auth/authenticate", [("authorization", f"bearer {token}")]
    )
    headers = dict(verdict.identity)
    assert headers["X-NMP-Principal-Email"] == "alice@example.com"
    assert headers["X-NMP-Scopes"] == "openid other:thing"
    assert verdict.principal is not None
    body = principal_document(verdict.principal)
    assert body["id"] == "user-1" and body["groups"] == ["developers", "platform-admins"]
    assert body["issuer"] == ISSUER and isinstance(body["expires_at"], int)
    assert token not in json.dumps(body)

    async def refused(target: str, headers: list[tuple[str, str]]) -> AuthError:
        with pytest.raises(AuthError) as info:
            await keeper.authenticate(target, headers)
        return info.value

    missing = await refused("/apis/auth/authenticate", [])
    assert missing.status == 401 and missing.www_authenticate("r") == 'Bearer realm="r"'
    bad = await refused("/apis/auth/authenticate", [("Authorization", "Bearer x.y.z")])
    assert bad.status == 401 and bad.error == "invalid_token"
    assert (await refused("/a?access_token=1", [])).status == 400
    twice = [("Authorization", f"Bearer {token}")] * 2
    assert (await refused("/a", twice)).reason == "duplicate_authorization"


# -- the decision cache ---------------------------------------------------------------


def test_cache_key_separates_credentials_methods_paths_rules() -> None:
    base = cache_key("Bearer a", "GET", "/x", "/")
    assert base != cache_key("Bearer b", "GET", "/x", "/")
    assert base != cache_key("Bearer a", "POST", "/x", "/")
    assert base != cache_key("Bearer a", "GET", "/y", "/")
    assert base != cache_key("Bearer a", "GET", "/x", "/x")
    assert b"Bearer a" not in base[0]


def test_cache_never_outlives_the_token_or_its_ttl() -> None:
    clock = Clock(1000.0)
    cache = DecisionCache(2, 30.0, clock=clock)
    short = Principal("u", expires_at=1010.0)
    cache.put(("k1",) * 4, short, [("X", "1")])  # type: ignore[arg-type]
    cache.put(("k2",) * 4, Principal("v", expires_at=5000.0), [])  # type: ignore[arg-type]
    clock.now = 1009.9
    assert cache.get(("k1",) * 4) is not None  # type: ignore[arg-type]
    clock.now = 1010.0
    assert cache.get(("k1",) * 4) is None  # type: ignore[arg-type]  # exp reached
    clock.now = 1030.0
    assert cache.get(("k2",) * 4) is None  # type: ignore[arg-type]  # ttl reached
    for i in range(5):
        cache.put((f"n{i}",) * 4, short, [])  # type: ignore[arg-type]
    assert len(cache) == 2  # bounded


def test_no_store_and_no_cache_forbid_caching() -> None:
    assert forbids_caching([("cache-control", "max-age=0, no-store")])
    assert forbids_caching([("Cache-Control", "No-Cache")])
    assert not forbids_caching([("Cache-Control", "max-age=5")])
    assert not forbids_caching([("Pragma", "no-store")])


async def test_cached_allow_is_per_credential_and_revalidated(idp: MemoryIdP, keys: Keys) -> None:
    keeper = await make_keeper(idp, gateway__cache_size=100)
    alice = ("Authorization", f"Bearer {sign(keys.rsa, claims())}")
    bob = ("Authorization", f"Bearer {sign(keys.rsa, claims(sub='bob', scope='x:y'))}")

    first = await keeper.check(FWD, "GET", "/c", [*fwd(), alice], trusted_peer=True)
    again = await keeper.check(FWD, "GET", "/c", [*fwd(), alice], trusted_peer=True)
    assert not first.cached and again.cached and keeper.cache.hits == 1
    assert first.identity == again.identity and first.principal is again.principal

    other = await outcome(keeper, keeper.check(FWD, "GET", "/c", [*fwd(), bob], trusted_peer=True))
    assert other[0] == 403 and keeper.cache.hits == 1  # bob never sees alice's entry

    fresh = await keeper.check(
        FWD, "GET", "/c", [*fwd(), alice, ("Cache-Control", "no-store")], trusted_peer=True
    )
    assert not fresh.cached and keeper.cache.hits == 1

    # The signing key leaves the JWKS: the cached allow must not be served.
    idp.jwks = keys.jwks()
    idp.jwks["keys"] = [k for k in idp.jwks["keys"] if k["kid"] != "rsa1"]
    await keeper.gate.verifier._keys[ISSUER].refresh()
    gone = await outcome(keeper, keeper.check(FWD, "GET", "/c", [*fwd(), alice], trusted_peer=True))
    assert gone[0] == 401

    # A path trick is refused before any cache lookup.
    trick = await outcome(
        keeper, keeper.check(FWD, "GET", "/c", [*fwd("/apis/./x"), alice], trusted_peer=True)
    )
    assert trick[0] == 400


def test_gateway_config_is_validated() -> None:
    from authgate.core.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        make_config(
            gateway__envoy_path_prefix="/ext-authz/",
            gateway__cache_size=-1,
            gateway__cache_ttl_seconds=0,
        )
    text = str(info.value)
    for field in ("envoy_path_prefix", "cache_size", "cache_ttl_seconds"):
        assert f"gateway.{field}" in text
    with pytest.raises(ConfigError, match=r"normal form|not a safe path"):
        make_config(gateway__envoy_path_prefix="/apis/auth/./x")
    assert make_config().gateway.enabled is False

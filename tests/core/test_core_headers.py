"""Header plan: identity-header stripping in every spelling, hop-by-hop and
Connection-listed removal, injection after filtering, safe values."""

from __future__ import annotations

import pytest

from authgate.core.config import HeaderConfig
from authgate.core.headers import HOP_BY_HOP, HeaderPlan, is_owned_cookie, safe_value
from authgate.core.principal import Principal

PLAN = HeaderPlan.compile(HeaderConfig(strip=("X-Debug-User",)))
ALICE = Principal(
    subject="alice",
    email="alice@example.com",
    groups=("developers", "platform-admins"),
    scopes=("platform:read", "platform:write"),
)

SPOOFS = [
    "X-NMP-Principal-Id",
    "x-nmp-principal-id",
    "X-NMP-PRINCIPAL-ID",
    "X_NMP_Principal_Id",
    "x_nmp_principal-id",
    "X-Nmp-Principal-Email",
    "X_NMP_PRINCIPAL_GROUPS",
    "x-nmp-scopes",
    "X_Debug_User",
]


@pytest.mark.parametrize("name", SPOOFS)
def test_identity_spoofs_stripped(name: str) -> None:
    out = PLAN.upstream_headers([(name, "mallory"), ("Accept", "*/*")], ALICE)
    assert ("Accept", "*/*") in out
    assert all(v != "mallory" for _, v in out)


def test_inject_values_and_names() -> None:
    assert PLAN.inject(ALICE) == [
        ("X-NMP-Principal-Id", "alice"),
        ("X-NMP-Principal-Email", "alice@example.com"),
        ("X-NMP-Principal-Groups", "developers,platform-admins"),
        ("X-NMP-Scopes", "platform:read platform:write"),
    ]
    plan = HeaderPlan.compile(HeaderConfig(preset="authgate"))
    names = [n for n, _ in plan.inject(ALICE)]
    assert names == [
        "X-Auth-Request-User",
        "X-Auth-Request-Email",
        "X-Auth-Request-Groups",
        "X-Auth-Request-Scopes",
    ]
    assert plan.is_identity("x_auth_request_user")
    # spoofed X_Auth_User-style header with the authgate preset (CVE-2025-64484)
    out = plan.upstream_headers([("X_Auth_Request_Email", "evil@x")], ALICE)
    assert ("X_Auth_Request_Email", "evil@x") not in out


def test_minimal_principal_omits_empty_headers() -> None:
    assert PLAN.inject(Principal(subject="s")) == [("X-NMP-Principal-Id", "s")]


def test_hop_by_hop_and_connection_listed() -> None:
    headers = [
        ("Connection", "keep-alive, X-Custom, x-nmp-principal-id, Host, content-length"),
        ("Keep-Alive", "timeout=5"),
        ("TE", "trailers"),
        ("Transfer-Encoding", "chunked"),
        ("Upgrade", "h2c"),
        ("Proxy-Authorization", "Basic x"),
        ("X-Custom", "1"),
        ("X-Other", "2"),
        ("Host", "svc"),
        ("Content-Length", "5"),
    ]
    out = PLAN.upstream_headers(headers, ALICE)
    names = [n.lower() for n, _ in out]
    assert "x-custom" not in names
    assert "x-other" in names
    assert "host" in names and "content-length" in names  # never dropped via Connection
    for hop in HOP_BY_HOP:
        assert hop not in names
    # Connection listed our header name, but injection comes after filtering
    assert ("X-NMP-Principal-Id", "alice") in out


def test_authorization_forwarding() -> None:
    hdrs = [("Authorization", "Bearer t")]
    assert PLAN.filter_request(hdrs) == []
    plan = HeaderPlan.compile(HeaderConfig(forward_authorization=True))
    assert plan.filter_request(hdrs) == hdrs


def test_hostile_claim_values_are_made_safe() -> None:
    evil = Principal(
        subject="a\r\nX-NMP-Scopes: admin",
        email="e@x\x00",
        groups=("g1,g2", "50%", "ok\n"),
        scopes=("s\r",),
    )
    out = dict(PLAN.inject(evil))
    assert out["X-NMP-Principal-Id"] == "aX-NMP-Scopes: admin"
    assert out["X-NMP-Principal-Email"] == "e@x"
    assert out["X-NMP-Principal-Groups"] == "g1%2Cg2,50%25,ok"
    assert out["X-NMP-Scopes"] == "s"
    for value in out.values():
        assert not any(ord(c) < 0x20 or ord(c) == 0x7F for c in value)
    assert safe_value("\tx\x7f") == "x"


FORWARDED_SPOOFS = [
    "X-Forwarded-For",
    "x-forwarded-for",
    "X_Forwarded_For",
    "x_forwarded-for",
    "X-FORWARDED_PROTO",
    "x_forwarded_host",
    "X-Forwarded-Host",
    "Forwarded",
    "FORWARDED",
]


@pytest.mark.parametrize("name", FORWARDED_SPOOFS)
def test_forwarded_spellings_dropped_when_set_forwarded(name: str) -> None:
    # the HTTP layer sets X-Forwarded-* itself; a client's (any spelling) must not survive
    sent = [(name, "6.6.6.6"), ("Accept", "*/*")]
    assert PLAN.filter_request(sent) == [("Accept", "*/*")]
    assert PLAN.scan(sent) == ([("Accept", "*/*")], [])


def test_forwarded_passes_when_set_forwarded_is_off() -> None:
    plan = HeaderPlan.compile(HeaderConfig(set_forwarded=False))
    sent = [("X-Forwarded-For", "10.0.0.1"), ("Forwarded", "for=10.0.0.1")]
    assert plan.filter_request(sent) == sent


def test_forwarded_lookalikes_kept() -> None:
    sent = [("Forwarded-For", "1"), ("XForwarded-For", "1"), ("X-Forwardedfor", "1")]
    assert PLAN.filter_request(sent) == sent


@pytest.mark.parametrize(
    "name", ["X-Forwarded-Port", "X-Forwarded-Uri", "x_forwarded_prefix", "X.Forwarded.Forx"]
)
def test_every_x_forwarded_name_dropped(name: str) -> None:
    # one rule for both engines (issue 11 defect 5; oauth2-proxy GHSA-7x63-xv5r-3p2x)
    assert PLAN.filter_request([(name, "spoof")]) == []
    assert PLAN.scan([(name, "spoof")])[0] == []


@pytest.mark.parametrize("preset", ["nemo", "authgate"])
@pytest.mark.parametrize(
    "name",
    [
        "X-NMP-Principal-Id",
        "x_nmp_scopes",
        "X-NMP-Principal-Groups",
        "X-Auth-Request-User",
        "X_Auth_Request_Email",
        "x-auth-request-groups",
        "X-AUTH-REQUEST-SCOPES",
    ],
)
def test_every_preset_family_stripped(preset: str, name: str) -> None:
    # under the nemo preset an app reading X-Auth-Request-User must not see a
    # client's value either (and vice versa)
    plan = HeaderPlan.compile(HeaderConfig(preset=preset))
    out = plan.upstream_headers([(name, "mallory"), ("Accept", "*/*")], ALICE)
    assert ("Accept", "*/*") in out
    assert all(v != "mallory" for _, v in out)
    kept, _ = plan.scan([(name, "mallory")])
    assert kept == []


def test_overridden_names_and_both_presets_stripped() -> None:
    plan = HeaderPlan.compile(HeaderConfig(principal_id="X-User"))
    sent = [("x_user", "m"), ("X-NMP-Principal-Id", "m"), ("X-Auth-Request-User", "m")]
    assert plan.filter_request(sent) == []
    assert plan.inject(ALICE)[0] == ("X-User", "alice")


@pytest.mark.parametrize(
    "name",
    [
        "authgate-session",
        "authgate-session-3",
        "__Host-authgate-session",
        "__Secure-authgate-session-0",
        "authgate-login-0123456789abcdef",
        "__Host-authgate-login-x",
    ],
)
def test_owned_cookies(name: str) -> None:
    assert is_owned_cookie(name)


@pytest.mark.parametrize("name", ["authgate", "my-authgate-session", "session", "authgate-loginx"])
def test_app_cookies_are_not_owned(name: str) -> None:
    assert not is_owned_cookie(name)


def test_plan_drops_authgate_cookies_on_every_request() -> None:
    plan = HeaderPlan.compile(HeaderConfig())
    headers = [
        ("Cookie", "a=1; __Host-authgate-session=k1.x;authgate-login-ab=k1.y ; b=2"),
        ("cookie", "authgate-session-0=k1.z"),
        ("X-Other", "authgate-session=kept"),
    ]
    expected = [("Cookie", "a=1; b=2"), ("X-Other", "authgate-session=kept")]
    assert plan.filter_request(headers) == expected
    assert plan.scan(headers) == (expected, [])
    assert plan.scan([("Cookie", "plain=1")]) == ([("Cookie", "plain=1")], [])

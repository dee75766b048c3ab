"""Header plan: identity-header stripping in every spelling, hop-by-hop and
Connection-listed removal, injection after filtering, safe values."""

from __future__ import annotations

import pytest
from authgate.core.config import HeaderConfig
from authgate.core.headers import HOP_BY_HOP, HeaderPlan, safe_value
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

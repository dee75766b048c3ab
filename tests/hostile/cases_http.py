"""The ``hdr-`` (identity-header smuggling, framing), ``path-`` (normalisation), ``size-``
(oversized input) and ``ws-`` (websocket upgrade) cases."""

from __future__ import annotations

from collections.abc import Callable

from .case_model import (
    _RAW_SUBS,
    EMAIL,
    GROUPS,
    ID,
    IDENTITY,
    SCOPES,
    SPOOF,
    STRIPPED_EXTRA,
    Case,
    Ctx,
    Req,
    good,
    raw,
    tok,
    unsigned,
)
from .servers import Seen


# ------------------------------------------------------------ header smuggling
def spoof(name: str) -> tuple[str, str]:
    return (name, SPOOF)


def _forwarded_is_ours(seen: Seen, req: Req) -> None:
    """X-Forwarded-* describe the real peer (trust_forwarded is off), in every spelling."""
    for name in ("X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "Forwarded"):
        for value in seen.values(name):
            assert "6.6.6.6" not in value and "evil.example" not in value, (name, value)
    assert seen.values("X-Forwarded-For") == ["127.0.0.1"], seen.values("X-Forwarded-For")


HEADER_CASES: list[Case] = [
    Case(
        "hdr-spoof-exact", (200,), good("h1", spoof(ID), spoof(EMAIL), spoof(GROUPS), spoof(SCOPES))
    ),
    Case("hdr-spoof-lowercase", (200,), good("h2", spoof(ID.lower()), spoof(GROUPS.lower()))),
    Case("hdr-spoof-uppercase", (200,), good("h3", spoof(ID.upper()), spoof(SCOPES.upper()))),
    Case(
        "hdr-spoof-underscore",
        (200,),
        good("h4", spoof("X_NMP_Principal_Id"), spoof("X_NMP_Scopes")),
        why="CVE-2025-64484",
    ),
    Case("hdr-spoof-mixed-underscore", (200,), good("h5", spoof("x-nmp_principal-ID"))),
    Case("hdr-spoof-duplicates", (200,), good("h6", spoof(ID), spoof(ID), spoof(ID.lower()))),
    Case(
        "hdr-spoof-extra-strip",
        (200,),
        good("h7", spoof(STRIPPED_EXTRA), spoof("x_internal_secret")),
    ),
    Case("hdr-connection-lists-identity", (200,), good("h8", ("Connection", f"close, {ID}"))),
    Case(
        "hdr-connection-lists-all",
        (200,),
        good("h9", ("Connection", "close, " + ", ".join(IDENTITY)), spoof(ID)),
    ),
    Case(
        "hdr-connection-lists-authorization",
        (200,),
        good("h10", ("Connection", "close, Authorization")),
        why="hop-by-hop removal happens after the token is read",
    ),
    Case(
        "hdr-spoof-on-public-path",
        (200,),
        lambda c: Req(target="/public/info", headers=(spoof(ID), spoof("x_nmp_scopes"))),
    ),
    Case("hdr-spoof-without-token", (401,), lambda c: Req(headers=(spoof(ID), spoof(SCOPES)))),
    Case(
        "hdr-forwarded-spoof",
        (200,),
        good(
            "fwd-user",
            ("X-Forwarded-For", "6.6.6.6"),
            ("X-Forwarded-Host", "evil.example"),
            ("X-Forwarded-Proto", "https"),
            ("Forwarded", "for=6.6.6.6;host=evil.example"),
        ),
        check=_forwarded_is_ours,
    ),
    Case(
        "hdr-forwarded-underscore-spoof",
        (200,),
        good("fwd2-user", ("X_Forwarded_For", "6.6.6.6"), ("x_forwarded_host", "evil.example")),
        check=_forwarded_is_ours,
        why="CGI/WSGI-style upstreams read X_Forwarded_For as X-Forwarded-For",
    ),
    Case(
        "hdr-obs-fold-identity",
        (400,),
        raw(
            lambda c, t: (
                "GET /apis/things HTTP/1.1\r\nHost: x\r\n"
                f"Authorization: Bearer {t}\r\nX-NMP-Principal-Id: a\r\n {SPOOF}\r\n"
                "Connection: close\r\n\r\n"
            ).encode()
        ),
        why="RFC 9112 §5.2: obs-fold rejected",
    ),
    Case(
        "hdr-obs-fold-authorization",
        (400,),
        raw(
            lambda c, t: (
                "GET /apis/things HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer\r\n "
                f"{t}\r\nConnection: close\r\n\r\n"
            ).encode()
        ),
    ),
    Case(
        "hdr-cl-and-te",
        (400,),
        raw(
            lambda c, t: (
                "POST /apis/things HTTP/1.1\r\nHost: x\r\n"
                f"Authorization: Bearer {t}\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n"
                "Connection: close\r\n\r\n0\r\n\r\nGET /apis/admin/x HTTP/1.1\r\nHost: x\r\n\r\n"
            ).encode()
        ),
        why="RFC 9112 §6.1: CL+TE is a smuggling attempt",
    ),
    Case(
        "hdr-te-not-chunked-last",
        (400,),
        raw(
            lambda c, t: (
                "POST /apis/things HTTP/1.1\r\nHost: x\r\n"
                f"Authorization: Bearer {t}\r\nTransfer-Encoding: chunked, identity\r\n"
                "Connection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
            ).encode()
        ),
    ),
    Case(
        "hdr-duplicate-content-length",
        (400,),
        raw(
            lambda c, t: (
                "POST /apis/things HTTP/1.1\r\nHost: x\r\n"
                f"Authorization: Bearer {t}\r\nContent-Length: 5\r\nContent-Length: 6\r\n"
                "Connection: close\r\n\r\nhello!"
            ).encode()
        ),
    ),
    Case(
        "hdr-space-before-colon",
        (400,),
        raw(
            lambda c, t: (
                "GET /apis/things HTTP/1.1\r\nHost: x\r\n"
                f"Authorization: Bearer {t}\r\nX-NMP-Principal-Id : {SPOOF}\r\n"
                "Connection: close\r\n\r\n"
            ).encode()
        ),
    ),
    Case(
        "hdr-bare-lf-smuggle",
        (400,),
        raw(
            lambda c, t: (
                "GET /apis/things HTTP/1.1\r\nHost: x\r\n"
                f"Authorization: Bearer {t}\r\nX-Ok: 1\nX-NMP-Principal-Id: {SPOOF}\r\n"
                "Connection: close\r\n\r\n"
            ).encode()
        ),
    ),
    Case(
        "hdr-chunked-body-forwarded",
        (200,),
        raw(
            lambda c, t: (
                "POST /apis/things HTTP/1.1\r\nHost: x\r\n"
                f"Authorization: Bearer {t}\r\nTransfer-Encoding: chunked\r\n"
                "Connection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
            ).encode(),
            sub="chunked-user",
        ),
    ),
]


# ----------------------------------------------------------------------- paths
def path(target: str, sub: str | None = None) -> Callable[[Ctx], Req]:
    return good(sub or f"path-user-{next(_RAW_SUBS)}", target=target)


PATH_CASES: list[Case] = [
    Case("path-dotdot", (400,), path("/public/../apis/things")),
    Case("path-dotdot-no-token", (400,), lambda c: Req(target="/public/../apis/admin/x")),
    Case("path-pct2e-dotdot", (400,), path("/public/%2e%2e/apis/files/x")),
    Case("path-pct2E-mixed", (400,), path("/public/.%2E/apis/files/x")),
    Case("path-dot-segment", (400,), path("/apis/./files/x")),
    Case("path-encoded-slash", (400,), path("/apis%2ffiles/x")),
    Case("path-encoded-slash-upper", (400,), path("/apis/files%2F..%2Fadmin")),
    Case("path-encoded-backslash", (400,), path("/apis%5cfiles/x")),
    Case("path-raw-backslash", (400,), path("/apis\\files/x")),
    Case("path-double-slash-lead", (400,), path("//apis/files/x")),
    Case("path-double-slash-mid", (400,), path("/apis//files/x")),
    Case("path-semicolon-param", (400,), path("/apis/files;x=1/report")),
    Case("path-semicolon-dotdot", (400,), path("/public/..;/apis/admin/x")),
    Case("path-pct-nul", (400,), path("/apis/things%00.json")),
    Case(
        "path-raw-nul",
        (400,),
        raw(
            lambda c, t: (
                f"GET /apis/th\x00ings HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {t}\r\n"
                "Connection: close\r\n\r\n"
            ).encode()
        ),
    ),
    Case("path-double-encoding", (400,), path("/public/%252e%252e/apis/files/x")),
    Case(
        "path-double-encoding-split",
        (400,),
        lambda c: Req(target="/public/%25%32%65%25%32%65/apis/files/x"),
        why="%25%32%65 decodes once to %2e: a double-decoding upstream sees /public/../apis/files",
    ),
    Case("path-overlong-utf8-dot", (400,), path("/public/%c0%ae%c0%ae/apis/files/x")),
    Case("path-fullwidth-dot", (400,), path("/public/%ef%bc%8e%ef%bc%8e/apis/files/x")),
    Case(
        "path-unreserved-escape-rule",
        (403,),
        path("/apis/fil%65s/report.csv"),
        why="%65 is 'e': the path is /apis/files/… and needs files:read",
    ),
    Case("path-unreserved-escape-ok", (200,), path("/apis/th%69ngs", sub="pe-user")),
    Case(
        "path-absolute-form",
        (400,),
        good("af-user", target="http://evil.example/apis/things"),
        why="a sidecar is an origin server: absolute-form targets are refused",
    ),
]

# --------------------------------------------------------------------- oversize
# 431 is the RFC 6585 §5 answer (the lean engine); aiohttp's parser answers 400
# for a single over-long line — both reject before anything is forwarded.
SIZE_CASES: list[Case] = [
    Case(
        "size-token-over-max",
        (401,),
        tok(lambda c: c.key.sign(c.claims("big-user", pad="p" * 12_000))),
        why="tokens.max_token_bytes=8192",
    ),
    Case("size-huge-header", (431, 400), good("big-h", ("X-Big", "b" * 100_000))),
    Case(
        "size-too-many-headers",
        (431, 400),
        good("many-h", *[(f"X-H{i}", "v" * 20) for i in range(2000)]),
    ),
    Case(
        "size-headers-over-total",
        (431, 400),
        good("tot-h", *[(f"X-T{i}", "v" * 4000) for i in range(20)]),
    ),
    Case("size-huge-target", (414, 431, 400), good("u-user", target="/apis/" + "a" * 100_000)),
]

# -------------------------------------------------------------------- websocket
WS_HEADERS = (
    ("Upgrade", "websocket"),
    ("Connection", "Upgrade"),
    ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ("Sec-WebSocket-Version", "13"),
)

WS_CASES: list[Case] = [
    Case(
        "ws-upgrade-no-token",
        (401,),
        lambda c: Req(target="/ws", headers=WS_HEADERS, websocket=True),
    ),
    Case(
        "ws-upgrade-bad-token",
        (401,),
        lambda c: Req(
            target="/ws",
            headers=(*WS_HEADERS, ("Authorization", "Bearer " + unsigned("none")(c))),
            websocket=True,
        ),
    ),
    Case(
        "ws-upgrade-expired-token",
        (401,),
        lambda c: (
            lambda t: Req(
                target="/ws",
                headers=(*WS_HEADERS, ("Authorization", f"Bearer {t}")),
                secrets=(t,),
                websocket=True,
            )
        )(c.token("ws-old", ttl=-600)),
    ),
    Case(
        "ws-upgrade-spoofed-identity",
        (101,),
        lambda c: (
            lambda t: Req(
                target="/ws",
                headers=(
                    *WS_HEADERS,
                    ("Authorization", f"Bearer {t}"),
                    spoof(ID),
                    spoof("x_nmp_scopes"),
                ),
                secrets=(t,),
                sub="ws-user",
                websocket=True,
            )
        )(c.token("ws-user")),
    ),
    Case(
        "ws-upgrade-path-trick",
        (400,),
        lambda c: (
            lambda t: Req(
                target="/public/../ws",
                headers=(*WS_HEADERS, ("Authorization", f"Bearer {t}")),
                secrets=(t,),
                websocket=True,
            )
        )(c.token("ws-p")),
    ),
]

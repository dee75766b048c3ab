"""The hostile-input table: every case is one request and its expected status.

Groups (ids are prefixed with them):

* ``jwt-``    RFC 8725 attacks: ``alg`` confusion and ``none`` variants; ``kid``,
  ``jku``, ``x5u``, ``jwk``, ``x5c``, ``crit``; nested JWT and JWE; duplicate JSON
  members; bad claim types; issuer/audience variants.
* ``authz-``  RFC 6750 request shapes: scheme variants, duplicate credentials.
* ``hdr-``    identity-header smuggling: case and ``_`` variants, duplicates,
  ``Connection``-listed names, obs-fold, CL+TE and other framing tricks.
* ``path-``   normalisation: ``..``, ``%2e``, ``%2f``, ``%5c``, ``//``, ``;``, NUL.
* ``size-``   oversized input: a huge token, too many headers, a huge header.
* ``ws-``     websocket upgrades without / with bad / with spoofed credentials.
* ``ok-``     controls that must pass, so the table cannot pass vacuously.

The runner (``test_hostile.py``) adds the four checks of every case: the
status, what the upstream saw (nothing at all when rejected; exactly one copy
of each identity header, carrying the token's subject, when forwarded), no
token in the proxy's logs, and no 5xx.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.support.idp import KeyPair

from . import forge
from .servers import Canary, Seen

ID = "X-NMP-Principal-Id"
EMAIL = "X-NMP-Principal-Email"
GROUPS = "X-NMP-Principal-Groups"
SCOPES = "X-NMP-Scopes"
IDENTITY = (ID, EMAIL, GROUPS, SCOPES)
STRIPPED_EXTRA = "X-Internal-Secret"  # configured in headers.strip
SPOOF = "spoofed-admin"


@dataclass
class Ctx:
    issuer: str
    key: KeyPair  # published RSA key
    ec_key: KeyPair  # published EC key
    attacker: KeyPair  # unpublished key that reuses the published kid
    canary: Canary
    used: list[str] = field(default_factory=list)

    def token(self, sub: str, **claims: Any) -> str:
        return self.key.sign(forge.claims(self.issuer, sub, **claims))

    def claims(self, sub: str, **claims: Any) -> dict[str, Any]:
        return forge.claims(self.issuer, sub, **claims)


@dataclass(frozen=True)
class Req:
    method: str = "GET"
    target: str = "/apis/things"
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    raw: bytes | None = None  # sent verbatim instead of building from the fields above
    secrets: tuple[str, ...] = ()  # must never appear in the proxy's logs
    sub: str | None = None  # the principal the upstream must see, when forwarded
    websocket: bool = False  # read only the response head (101)


@dataclass(frozen=True)
class Case:
    id: str
    expect: tuple[int, ...]
    build: Callable[[Ctx], Req]
    check: Callable[[Seen, Req], None] | None = None
    why: str = ""


def bearer(
    token: str,
    *extra: tuple[str, str],
    target: str = "/apis/things",
    method: str = "GET",
    sub: str | None = None,
) -> Req:
    return Req(
        method=method,
        target=target,
        headers=(("Authorization", f"Bearer {token}"), *extra),
        secrets=(token,),
        sub=sub,
    )


def good(
    sub: str,
    *extra: tuple[str, str],
    target: str = "/apis/things",
    method: str = "GET",
    **claims: Any,
) -> Callable[[Ctx], Req]:
    """A valid token for ``sub`` plus ``extra`` headers."""
    return lambda c: bearer(c.token(sub, **claims), *extra, target=target, method=method, sub=sub)


def tok(make: Callable[[Ctx], str], target: str = "/apis/things") -> Callable[[Ctx], Req]:
    return lambda c: bearer(make(c), target=target)


_RAW_SUBS = itertools.count(1)


def raw(make: Callable[[Ctx, str], bytes], sub: str | None = None) -> Callable[[Ctx], Req]:
    """A raw request; ``make(ctx, token)`` returns the bytes; a valid token is
    supplied (a distinct subject per case, so every case's token is unique)."""
    sub = sub or f"raw-user-{next(_RAW_SUBS)}"

    def build(c: Ctx) -> Req:
        token = c.token(sub)
        return Req(raw=make(c, token), secrets=(token,), sub=sub)

    return build


# --------------------------------------------------------------------- JWT BCP
def _none(alg: str, sig: bytes = b"") -> Callable[[Ctx], str]:
    return lambda c: forge.unsigned({"alg": alg, "typ": "JWT"}, c.claims("none-user"), sig)


def _with_header(**hdr: Any) -> Callable[[Ctx], str]:
    """Correct claims, signed by the *attacker*, with extra JOSE header members."""
    return lambda c: c.attacker.sign(c.claims("hdr-user"), headers=hdr)


def _jku(c: Ctx) -> str:
    return c.attacker.sign(c.claims("jku-user"), headers={"jku": c.canary.url("/jku/jwks.json")})


def _x5u(c: Ctx) -> str:
    return c.attacker.sign(c.claims("x5u-user"), headers={"x5u": c.canary.url("/x5u/cert.pem")})


def _jwk(c: Ctx) -> str:
    return c.attacker.sign(c.claims("jwk-user"), headers={"jwk": c.attacker.jwk()})


def _x5c(c: Ctx) -> str:
    return c.attacker.sign(
        c.claims("x5c-user"), headers={"x5c": [forge.self_signed_x5c(c.attacker)]}
    )


def _crit(c: Ctx) -> str:
    # Validly signed by the real key: only the unknown critical extension is wrong.
    return c.key.sign(
        c.claims("crit-user"),
        headers={"crit": ["urn:authgate:unknown"], "urn:authgate:unknown": True},
    )


def _crit_b64(c: Ctx) -> str:
    return c.key.sign(c.claims("crit-user"), headers={"crit": ["b64"], "b64": False})


def _nested(c: Ctx) -> str:
    inner = c.token("inner-user")
    header = json.dumps({"alg": "RS256", "kid": c.key.kid, "cty": "JWT"})
    return forge.rs256_raw(c.key, header, inner)


def _dup_exp(c: Ctx) -> str:
    cl = c.claims("dup-user")
    body = json.dumps(cl)[:-1] + ', "exp": 1000}'  # the last exp is long past
    return forge.rs256_raw(c.key, json.dumps({"alg": "RS256", "kid": c.key.kid}), body)


def _dup_iss(c: Ctx) -> str:
    cl = c.claims("dup-user")
    body = json.dumps(cl)[:-1] + ', "iss": "https://evil.example"}'
    return forge.rs256_raw(c.key, json.dumps({"alg": "RS256", "kid": c.key.kid}), body)


def _dup_alg(c: Ctx) -> str:
    # {"alg":"RS256","alg":"none"}: whichever member a parser keeps, it must not
    # turn into an unsigned token.
    header = '{"alg": "RS256", "kid": "' + c.key.kid + '", "alg": "none"}'
    return forge.rs256_raw(c.key, header, json.dumps(c.claims("dup-user")))


def _signed(sub: str, **claims: Any) -> Callable[[Ctx], str]:
    return lambda c: c.key.sign(forge.claims(c.issuer, sub, **claims))


def _claims_without(name: str) -> Callable[[Ctx], str]:
    def make(c: Ctx) -> str:
        cl = c.claims("missing-user")
        del cl[name]
        return c.key.sign(cl)

    return make


JWT_CASES: list[Case] = [
    Case("jwt-alg-none", (401,), tok(_none("none")), why="RFC 8725 §2.1"),
    Case("jwt-alg-None", (401,), tok(_none("None"))),
    Case("jwt-alg-NONE", (401,), tok(_none("NONE"))),
    Case("jwt-alg-nOnE-with-sig", (401,), tok(_none("nOnE", b"\x01" * 256))),
    Case("jwt-alg-empty", (401,), tok(_none(""))),
    Case(
        "jwt-hs256-public-key",
        (401,),
        tok(lambda c: forge.hmac_with_public_key(c.key, c.claims("hs-user"))),
        why="key confusion: HMAC keyed with the RSA public key",
    ),
    Case(
        "jwt-hs512-public-key",
        (401,),
        tok(lambda c: forge.hmac_with_public_key(c.key, c.claims("hs-user"), "HS512")),
    ),
    Case(
        "jwt-forged-signature",
        (401,),
        tok(lambda c: c.token("forged-user").rsplit(".", 1)[0] + "." + forge.b64url(b"\x00" * 256)),
    ),
    Case(
        "jwt-signed-by-other-key-same-kid",
        (401,),
        tok(lambda c: c.attacker.sign(c.claims("x-user"))),
    ),
    Case(
        "jwt-es256-r-s-zero",
        (401,),
        tok(lambda c: forge.es256_zero_signature(c.ec_key.kid, c.claims("ec-user"))),
        why="CVE-2022-21449",
    ),
    Case(
        "jwt-rs256-header-on-ec-key",
        (401,),
        tok(
            lambda c: forge.unsigned(
                {"alg": "RS256", "kid": c.ec_key.kid}, c.claims("ec-user"), b"\x01" * 256
            )
        ),
        why="the algorithm must match the key type",
    ),
    Case("jwt-kid-path-traversal", (401,), tok(_with_header(kid="../../../../../../etc/passwd"))),
    Case("jwt-kid-sql", (401,), tok(_with_header(kid="' OR '1'='1"))),
    Case("jwt-kid-10k", (401,), tok(_with_header(kid="k" * 10_000))),
    Case("jwt-kid-integer", (401,), tok(_with_header(kid=12345))),
    Case("jwt-kid-unknown", (401,), tok(_with_header(kid="no-such-kid"))),
    Case("jwt-jku-attacker-jwks", (401,), tok(_jku), why="RFC 8725 §3.10: never fetched"),
    Case("jwt-x5u-attacker-cert", (401,), tok(_x5u)),
    Case("jwt-embedded-jwk", (401,), tok(_jwk)),
    Case("jwt-embedded-x5c", (401,), tok(_x5c)),
    Case("jwt-crit-unknown", (401,), tok(_crit), why="RFC 7515 §4.1.11"),
    Case("jwt-crit-b64-false", (401,), tok(_crit_b64), why="RFC 7797 not supported → reject"),
    Case("jwt-nested-cty-jwt", (401,), tok(_nested), why="nested JWTs are not unwrapped"),
    Case("jwt-jwe-five-parts", (401,), tok(lambda c: forge.jwe_like(c.key.kid))),
    Case(
        "jwt-duplicate-exp",
        (401,),
        tok(_dup_exp),
        why="duplicate members: the last (expired) wins or the token is rejected",
    ),
    Case("jwt-duplicate-iss", (401,), tok(_dup_iss)),
    Case(
        "jwt-duplicate-alg-none",
        (401,),
        tok(_dup_alg),
        why="RFC 7515 §4 allows rejecting duplicate members; JSON keeps the last (none)",
    ),
    Case("jwt-exp-string", (401,), tok(_signed("s-user", exp="9999999999"))),
    Case("jwt-exp-missing", (401,), tok(_claims_without("exp"))),
    Case("jwt-expired", (401,), tok(_signed("old-user", ttl=-3600))),
    Case("jwt-nbf-future", (401,), tok(_signed("nbf-user", nbf=2_000_000_000))),
    Case("jwt-iat-future", (401,), tok(_signed("iat-user", iat=2_000_000_000))),
    Case("jwt-aud-object", (401,), tok(_signed("aud-user", aud={"aud": "api://authgate"}))),
    Case("jwt-aud-foreign", (401,), tok(_signed("aud-user", aud="api://someone-else"))),
    Case("jwt-aud-missing", (401,), tok(_claims_without("aud"))),
    Case(
        "jwt-iss-trailing-slash",
        (401,),
        tok(lambda c: c.key.sign(forge.claims(c.issuer + "/", "i"))),
    ),
    Case("jwt-iss-prefix", (401,), tok(lambda c: c.key.sign(forge.claims(c.issuer[:-3], "i")))),
    Case(
        "jwt-iss-suffix", (401,), tok(lambda c: c.key.sign(forge.claims(c.issuer + "-evil", "i")))
    ),
    Case(
        "jwt-iss-array",
        (401,),
        tok(lambda c: c.key.sign(forge.claims(c.issuer, "i") | {"iss": [c.issuer]})),
    ),
    Case("jwt-garbage", (401,), tok(lambda c: "not.a.jwt")),
    Case("jwt-one-segment", (401,), tok(lambda c: forge.b64url(b'{"alg":"none"}'))),
]

# --------------------------------------------------------------- RFC 6750 shapes
AUTHZ_CASES: list[Case] = [
    Case("authz-missing", (401,), lambda c: Req()),
    Case(
        "authz-basic-scheme",
        (401,),
        lambda c: Req(headers=(("Authorization", "Basic YWxpY2U6c2VjcmV0"),)),
    ),
    Case("authz-bearer-empty", (401,), lambda c: Req(headers=(("Authorization", "Bearer "),))),
    Case(
        "authz-two-headers",
        (400,),
        lambda c: Req(
            headers=(
                ("Authorization", f"Bearer {c.token('two-a')}"),
                ("Authorization", f"Bearer {c.token('two-b')}"),
            ),
        ),
        why="RFC 6750 §2: one method only",
    ),
    Case(
        "authz-header-and-query",
        (400,),
        lambda c: (
            lambda t: Req(
                target=f"/apis/things?access_token={t}",
                headers=(("Authorization", f"Bearer {t}"),),
                secrets=(t,),
            )
        )(c.token("q-user")),
    ),
    Case(
        "authz-lowercase-scheme",
        (200,),
        lambda c: (
            lambda t: Req(headers=(("Authorization", f"bearer {t}"),), secrets=(t,), sub="lc-user")
        )(c.token("lc-user")),
        why="the auth-scheme is case-insensitive (RFC 9110 §11.1)",
    ),
    Case("authz-no-files-scope", (403,), good("scope-user", target="/apis/files/report.csv")),
    Case("authz-missing-group", (403,), good("group-user", target="/apis/admin/users")),
]


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
            headers=(*WS_HEADERS, ("Authorization", "Bearer " + _none("none")(c))),
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

# ---------------------------------------------------------------------- controls
OK_CASES: list[Case] = [
    Case("ok-valid-token", (200,), good("alice")),
    Case(
        "ok-valid-ec-token",
        (200,),
        lambda c: (lambda t: bearer(t, sub="ec-alice"))(c.ec_key.sign(c.claims("ec-alice"))),
    ),
    Case("ok-aud-array", (200,), good("arr-user", aud=["other", "api://authgate"])),
    Case("ok-scope-array", (200,), good("scp-user", scope=None, scp=["platform:read"])),
    Case(
        "ok-write-post",
        (200,),
        lambda c: (lambda r: Req(**{**r.__dict__, "body": b"hello"}))(
            bearer(c.token("w-user"), method="POST", sub="w-user")
        ),
    ),
    Case(
        "ok-files-scope",
        (200,),
        good("f-user", target="/apis/files/a.txt", scope="openid files:read"),
    ),
    Case("ok-public-no-token", (200,), lambda c: Req(target="/public/info")),
]

ALL_CASES: list[Case] = [
    *JWT_CASES,
    *AUTHZ_CASES,
    *HEADER_CASES,
    *PATH_CASES,
    *SIZE_CASES,
    *WS_CASES,
    *OK_CASES,
]

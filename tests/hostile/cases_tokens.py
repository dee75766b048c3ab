"""The ``jwt-`` (RFC 8725 attacks) and ``authz-`` (RFC 6750 request shapes) cases."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from . import forge
from .case_model import Case, Ctx, Req, good, tok, unsigned


# --------------------------------------------------------------------- JWT BCP
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
    Case("jwt-alg-none", (401,), tok(unsigned("none")), why="RFC 8725 §2.1"),
    Case("jwt-alg-None", (401,), tok(unsigned("None"))),
    Case("jwt-alg-NONE", (401,), tok(unsigned("NONE"))),
    Case("jwt-alg-nOnE-with-sig", (401,), tok(unsigned("nOnE", b"\x01" * 256))),
    Case("jwt-alg-empty", (401,), tok(unsigned(""))),
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

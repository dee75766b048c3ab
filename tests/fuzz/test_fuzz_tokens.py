"""Property tests for token parsing (RFC 7519, RFC 8725).

Properties:

* for *any* string — random text, random bytes, JWT-shaped garbage, hand-built
  headers with hostile ``alg``/``kid``/``jku``/``crit`` values — ``verify``
  raises only our :class:`AuthError` types and never accepts;
* a correctly signed token whose claims were broken in any one way (wrong
  type, expired, foreign ``iss``/``aud``) is rejected;
* and, so the properties can fail, a correctly signed good token is accepted.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from authgate.core.errors import InvalidRequest, InvalidToken, MissingToken

from .fuzz_support import (
    AUDIENCE,
    HOSTILE_ALGS,
    ISSUER,
    KID,
    VerifierHarness,
    b64url,
    good_claims,
    raw_jws,
    rejects,
)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

FUZZ = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.fixture(scope="module")
def harness() -> Iterator[VerifierHarness]:
    h = VerifierHarness()
    yield h
    h.close()


json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)

#: Hostile JOSE header fields (RFC 7515 §4.1, RFC 8725 §3.10).
hostile_headers = st.fixed_dictionaries(
    {"alg": st.sampled_from(HOSTILE_ALGS)},
    optional={
        "kid": st.one_of(
            st.just(KID),
            st.just("../../../../etc/passwd"),
            st.text(max_size=64),
            st.just("x" * 100_000),
            st.integers(),
            st.none(),
        ),
        "jku": st.just("http://127.0.0.1:1/jwks.json"),
        "x5u": st.just("http://127.0.0.1:1/cert.pem"),
        "jwk": st.dictionaries(st.sampled_from(["kty", "n", "e", "k"]), st.text(max_size=20)),
        "x5c": st.lists(st.text(max_size=40), max_size=2),
        "crit": st.one_of(st.lists(st.text(max_size=10), max_size=3), json_scalars),
        "cty": st.sampled_from(["JWT", "jwt", "application/jwt"]),
        "enc": st.sampled_from(["A256GCM", "A128CBC-HS256"]),
        "typ": json_scalars,
    },
)


@FUZZ
@given(st.text(max_size=2000))
def test_arbitrary_text_is_rejected(harness: VerifierHarness, token: str) -> None:
    rejects(harness, token)


@FUZZ
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_are_rejected(harness: VerifierHarness, data: bytes) -> None:
    rejects(harness, data.decode("latin-1"))


segment = st.one_of(
    st.binary(max_size=200).map(b64url),
    json_values.map(lambda v: b64url(repr(v).encode())),
    st.text(alphabet="ABCabc0123-_=+/.", max_size=60),
)


@FUZZ
@given(st.lists(segment, min_size=1, max_size=6).map(".".join))
def test_jwt_shaped_garbage_is_rejected(harness: VerifierHarness, token: str) -> None:
    rejects(harness, token)


@FUZZ
@given(
    hostile_headers,
    st.dictionaries(st.text(max_size=10), json_values, max_size=6),
    st.binary(max_size=300),
)
def test_hostile_headers_with_random_payload_are_rejected(
    harness: VerifierHarness, header: dict[str, Any], payload: dict[str, Any], sig: bytes
) -> None:
    rejects(harness, raw_jws(header, payload, sig))


@FUZZ
@given(hostile_headers, st.binary(max_size=300))
def test_hostile_headers_with_good_claims_are_rejected(
    harness: VerifierHarness, header: dict[str, Any], sig: bytes
) -> None:
    """Good claims, hostile header, signature that is not ours: never accepted
    (covers ``alg: none`` with an empty signature and every key-injection header)."""
    rejects(harness, raw_jws(header, good_claims(), sig))


#: One claim broken at a time: RFC 7519 §4.1 types and values.
BROKEN_CLAIMS: list[dict[str, Any]] = [
    {"exp": "9999999999"},
    {"exp": int(time.time()) - 3600},
    {"exp": None},
    {"exp": [9999999999]},
    {"exp": "__missing__"},
    {"nbf": int(time.time()) + 3600},
    {"nbf": "0"},
    {"iat": "now"},
    {"aud": {"aud": AUDIENCE}},
    {"aud": "api://someone-else"},
    {"aud": ["api://someone-else"]},
    {"aud": [["api://authgate"]]},
    {"aud": None},
    {"iss": ISSUER + "/"},
    {"iss": ISSUER[:-1]},
    {"iss": ISSUER + "x"},
    {"iss": ISSUER.upper()},
    {"iss": [ISSUER]},
    {"iss": None},
]


@pytest.mark.parametrize(
    "broken", BROKEN_CLAIMS, ids=lambda b: "-".join(f"{k}={v!r}"[:30] for k, v in b.items())
)
def test_signed_token_with_one_broken_claim_is_rejected(
    harness: VerifierHarness, broken: dict[str, Any]
) -> None:
    claims = good_claims(**broken)
    if claims["exp"] == "__missing__":
        del claims["exp"]  # a token without exp would be valid forever (RFC 8725 §3.10)
    rejects(harness, harness.key.sign(claims))


@FUZZ
@given(st.sampled_from(["exp", "nbf", "iat", "aud", "iss", "sub"]), json_values)
def test_signed_token_with_random_claim_types_never_crashes(
    harness: VerifierHarness, claim: str, value: Any
) -> None:
    """A signed token with an arbitrary JSON value in a registered claim is
    accepted or rejected with an AuthError — nothing else escapes."""
    token = harness.key.sign(good_claims(**{claim: value}))
    try:
        harness.verify(token)
    except (InvalidToken, MissingToken, InvalidRequest):
        pass


def test_key_confusion_hs256_with_public_key_is_rejected(harness: VerifierHarness) -> None:
    err = rejects(harness, harness.key.hs256_with_public_key(good_claims()))
    assert err.status == 401


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
def test_unsigned_tokens_are_rejected_outside_quickstart(
    harness: VerifierHarness, alg: str
) -> None:
    header = b64url(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    payload = raw_jws({}, good_claims()).split(".")[1]
    for token in (f"{header}.{payload}.", f"{header}.{payload}"):
        assert rejects(harness, token).status == 401


def test_good_token_is_accepted(harness: VerifierHarness) -> None:
    """The control: without it every property above would pass vacuously."""
    principal = harness.verify(harness.key.sign(good_claims()))
    assert principal.subject == "user-123"
    assert "platform:read" in principal.scopes

"""Property tests: normalisation is idempotent and never yields a path with
dot segments or empty segments; the verifier only ever raises InvalidToken."""

from __future__ import annotations

import asyncio

from hypothesis import given, settings
from hypothesis import strategies as st

from authgate.core.errors import InvalidRequest, InvalidToken
from authgate.core.keys import KeyCache
from authgate.core.paths import normalize_path, remove_dot_segments
from authgate.core.verify import TokenVerifier
from tests.support.fetchers import MemoryIdP

from .core_helpers import FAST_KEYS, ISSUER, make_config

PATH_ALPHABET = "/.%;\\\x00 aZ09-_~:@!$&'()*+,=2eEfFcC5%#?é"


@settings(max_examples=2000, deadline=None)
@given(st.text(alphabet=PATH_ALPHABET, max_size=40))
def test_normalize_path_is_safe(raw: str) -> None:
    try:
        normal = normalize_path("/" + raw)
    except InvalidRequest as exc:
        assert exc.status == 400
        return
    assert normal.startswith("/")
    assert "//" not in normal
    assert remove_dot_segments(normal) == normal
    assert not any(seg in (".", "..") for seg in normal.split("/"))
    assert ";" not in normal and "\\" not in normal and "\x00" not in normal
    assert "%2F" not in normal.upper() and "%2E" not in normal.upper()
    assert normalize_path(normal) == normal  # idempotent


_TOKEN_ALPHABET = "abcXYZ019-_.=+/ "


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=_TOKEN_ALPHABET, max_size=200))
def test_verifier_only_raises_invalid_token(token: str) -> None:
    async def run() -> None:
        idp = MemoryIdP(jwks={"keys": []}, issuer=ISSUER)
        cache = KeyCache(ISSUER, idp, FAST_KEYS)
        verifier = TokenVerifier(make_config(), {ISSUER: cache})
        try:
            await verifier.verify(token)
        except InvalidToken:
            return
        raise AssertionError("a random string was accepted")

    asyncio.run(run())


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=8,
)
_HEADER = st.fixed_dictionaries(
    {},
    optional={
        "alg": st.sampled_from(["RS256", "none", "HS256", "ES256", "EdDSA", "", "rs256"]) | _JSON,
        "kid": st.sampled_from(["rsa1", "../x", ""]) | _JSON,
        "typ": st.sampled_from(["JWT", "at+jwt", "x"]) | _JSON,
        "crit": _JSON,
        "cty": _JSON,
        "jku": st.just("http://127.0.0.1:9/jwks"),
    },
)
_CLAIMS = st.fixed_dictionaries(
    {},
    optional={
        "iss": st.just(ISSUER) | _JSON,
        "aud": st.just("api://authgate") | _JSON,
        "exp": _JSON,
        "nbf": _JSON,
        "sub": _JSON,
        "scope": _JSON,
        "groups": _JSON,
        "email": _JSON,
    },
)


@settings(max_examples=400, deadline=None)
@given(_HEADER, _CLAIMS, st.binary(max_size=80), st.booleans())
def test_structured_garbage_is_refused_cleanly(
    header: dict, payload: dict, sig: bytes, quickstart: bool
) -> None:
    from .core_helpers import raw_token

    token = raw_token(header, payload, sig)

    async def run() -> None:
        idp = MemoryIdP(jwks={"keys": []}, issuer=ISSUER)
        cache = KeyCache(ISSUER, idp, FAST_KEYS)
        verifier = TokenVerifier(make_config(quickstart__enabled=quickstart), {ISSUER: cache})
        try:
            principal = await verifier.verify(token)
        except InvalidToken:
            principal = None
        assert all("127.0.0.1:9" not in c for c in idp.calls)  # jku never fetched
        if principal is not None:
            # only an unsigned quickstart token with an email can ever pass here
            assert quickstart and header.get("alg") == "none" and not sig
            assert principal.quickstart and principal.email and "@" in principal.email

    asyncio.run(run())

"""Property tests for identity-header stripping and injection.

The upstream trusts the identity headers blindly, so the properties are strict:

* no variant of an identity header (any case, ``_`` for ``-``, repeated, listed
  in ``Connection``) survives ``HeaderPlan.filter_request`` (cf. oauth2-proxy
  CVE-2025-64484);
* hop-by-hop headers (RFC 9110 §7.6.1), including every name listed in
  ``Connection``, are dropped; every other header passes unchanged, in order;
* after ``Gate.decide`` each injected header is present exactly once with the
  principal's values, whatever the client sent — and on a public path or with
  ``auth_enabled: false`` no identity header is present at all.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from authgate.core.headers import HOP_BY_HOP, HeaderPlan

from .fuzz_support import VerifierHarness, canon, good_claims, make_config

FUZZ = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

HEADERS = {"strip": ["X-Internal-Secret"]}
PLAN = HeaderPlan.compile(make_config(headers=HEADERS).headers)


IDENTITY = {canon(n) for n in PLAN.identity_names} | {"x-internal-secret"}
HOP = {canon(n) for n in HOP_BY_HOP}


@pytest.fixture(scope="module")
def harness() -> Iterator[VerifierHarness]:
    h = VerifierHarness(make_config(headers=HEADERS))
    yield h
    h.close()


@st.composite
def variant(draw: st.DrawFn, names: tuple[str, ...]) -> str:
    """A spelling of one of ``names``: random case per letter, ``_`` for ``-``."""
    name = draw(st.sampled_from(names))
    out = []
    for ch in name:
        if ch == "-":
            out.append(draw(st.sampled_from("-_")))
        elif ch.isalpha():
            out.append(ch.upper() if draw(st.booleans()) else ch.lower())
        else:
            out.append(ch)
    return "".join(out)


identity_variant = variant((*PLAN.identity_names, "X-Internal-Secret"))
header_value = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40)
benign_name = st.from_regex(r"\A[A-Za-z][A-Za-z0-9]{0,12}(-[A-Za-z0-9]{1,8})?\Z").filter(
    lambda n: canon(n) not in IDENTITY | HOP | {"authorization", "connection", "forwarded"}
)
hostile_headers = st.lists(
    st.tuples(st.one_of(identity_variant, benign_name), header_value), max_size=20
)


@FUZZ
@given(hostile_headers, st.lists(st.one_of(identity_variant, benign_name), max_size=5))
def test_no_identity_variant_survives_filter_request(
    headers: list[tuple[str, str]], connection_listed: list[str]
) -> None:
    sent = list(headers)
    if connection_listed:
        sent.append(("Connection", ", ".join(connection_listed)))
    out = PLAN.filter_request(sent)

    for name, _ in out:
        assert canon(name) not in IDENTITY, f"identity header survived: {name!r}"
        assert not PLAN.is_identity(name)
        assert canon(name) not in HOP, f"hop-by-hop header survived: {name!r}"
        assert canon(name) != "authorization"

    listed = {canon(n) for n in connection_listed}
    expected = [(n, v) for n, v in headers if canon(n) not in IDENTITY and canon(n) not in listed]
    assert out == expected, "benign headers must pass unchanged and in order"


@FUZZ
@given(identity_variant)
def test_is_identity_matches_every_variant(name: str) -> None:
    assume(canon(name) != "x-internal-secret")
    assert PLAN.is_identity(name)


@FUZZ
@given(hostile_headers, st.lists(identity_variant, max_size=4))
def test_injected_headers_present_exactly_once(
    harness: VerifierHarness, headers: list[tuple[str, str]], connection_listed: list[str]
) -> None:
    token = harness.key.sign(good_claims())
    sent = [*headers, ("Authorization", f"Bearer {token}")]
    if connection_listed:
        sent.append(("Connection", ", ".join(connection_listed)))
    decision = harness.decide("GET", "/apis/things", sent)
    assert decision.principal is not None

    injected = PLAN.inject(decision.principal)
    assert injected, "a verified principal must produce identity headers"
    for name, value in injected:
        seen = [v for n, v in decision.upstream_headers if canon(n) == canon(name)]
        assert seen == [value], f"{name}: expected exactly [{value!r}], got {seen!r}"
    for name, _ in decision.upstream_headers:
        assert canon(name) != "authorization"
        assert canon(name) != "x-internal-secret"
    assert token not in repr(decision.upstream_headers)


@FUZZ
@given(hostile_headers)
def test_public_path_strips_identity_without_injecting(
    harness: VerifierHarness, headers: list[tuple[str, str]]
) -> None:
    decision = harness.decide("GET", "/healthz", headers)
    assert decision.public
    for name, _ in decision.upstream_headers:
        assert canon(name) not in IDENTITY


@pytest.fixture(scope="module")
def disabled() -> Iterator[VerifierHarness]:
    h = VerifierHarness(make_config(auth_enabled=False, headers=HEADERS))
    yield h
    h.close()


@FUZZ
@given(hostile_headers)
def test_auth_disabled_still_strips_identity(
    disabled: VerifierHarness, headers: list[tuple[str, str]]
) -> None:
    decision = disabled.decide("POST", "/apis/things", headers)
    assert decision.principal is None
    for name, _ in decision.upstream_headers:
        assert canon(name) not in IDENTITY

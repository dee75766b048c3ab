"""Property tests for path normalisation (RFC 3986 §5.2.4, §6.2.2).

Rules are matched on the normalised path, so normalisation must be a fixed
point that leaves nothing an upstream could re-interpret:

* ``normalize_path`` either returns a path or raises ``InvalidRequest`` (400) —
  no other exception;
* it is idempotent;
* its output starts with ``/`` and contains no ``//``, no ``.``/``..`` segment
  (raw or percent-encoded), no encoded separator (``%2f``, ``%5c``), no ``\\``,
  no NUL and no ``;`` parameter;
* through ``Gate.decide``, the path that was authorised is the normalised path
  (``Decision.path``) — so anything that normalises under a protected prefix
  (``/apis/files/``) needs that prefix's scopes, however it was spelled.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from authgate.core.errors import AuthError, InsufficientScope, InvalidRequest
from authgate.core.paths import normalize_path

from .fuzz_support import VerifierHarness, check_normal_form, good_claims

FUZZ = settings(
    max_examples=500,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

#: Pieces attackers splice into paths.
PIECES = [
    "/",
    "//",
    ".",
    "..",
    "%2e",
    "%2E",
    "%2e%2e",
    ".%2e",
    "%2f",
    "%2F",
    "%5c",
    "%5C",
    "\\",
    ";",
    ";a=b",
    "%3b",
    "%00",
    "\x00",
    "%25",
    "%252e",
    "%252f",
    "%",
    "%zz",
    "a",
    "b",
    "apis",
    "files",
    "public",
    "healthz",
    "%41",
    "~",
    "-",
    "_",
    "é",
    "%c0%ae",
    "\t",
    " ",
    "+",
    "@",
]

spliced = st.lists(st.sampled_from(PIECES), max_size=14).map("".join)
raw_paths = st.one_of(
    spliced.map(lambda s: "/" + s),
    st.text(max_size=60).map(lambda s: "/" + s),
    spliced.map(lambda s: "/apis/files/" + s),
    spliced.map(lambda s: "/public/" + s),
).filter(lambda p: "?" not in p and "#" not in p)  # the query is split off before normalising


@FUZZ
@given(raw_paths)
@example("/public/../admin")
@example("/public/%2e%2e/admin")
@example("/apis/files%2fsecret")
@example("/a/.%2E/b")
@example("//apis/files/x")
@example("/apis/files/x;jsessionid=1")
@example("/a%00b")
@example("/a%5c..%5cb")
@example("/a%25%33%31")  # found by atheris: → /a%2531, which normalize_path then rejects
@example("/public/%25%32%65%25%32%65/apis/files/x")  # a split double encoding of ".."
def test_normalize_is_a_safe_fixed_point(raw: str) -> None:
    try:
        out = normalize_path(raw)
    except InvalidRequest as exc:
        assert exc.status == 400
        return
    check_normal_form(out)
    assert normalize_path(out) == out, "normalisation must be idempotent"


def test_normalize_accepts_plain_paths() -> None:
    """The control: ordinary paths pass unchanged."""
    for p in ("/", "/apis/files/a.txt", "/v1/models/llama-3.1", "/a/b/"):
        assert normalize_path(p) == p


@pytest.fixture(scope="module")
def harness() -> Iterator[VerifierHarness]:
    h = VerifierHarness()
    yield h
    h.close()


@FUZZ
@given(raw_paths, st.sampled_from(["GET", "POST"]))
@example("/public/../apis/files/secret", "GET")
@example("/apis/./files/secret", "GET")
@example("/apis//files/secret", "GET")
def test_authorised_path_is_the_normalised_path(
    harness: VerifierHarness, raw: str, method: str
) -> None:
    """A token with platform scopes but no ``files:*`` scope must never reach a
    path that normalises under ``/apis/files/``; and whatever is allowed is
    allowed for exactly ``normalize_path(raw)``."""
    token = harness.key.sign(good_claims())  # platform:read platform:write only
    headers = [("Authorization", f"Bearer {token}")]
    try:
        expected = normalize_path(raw)
    except InvalidRequest:
        with pytest.raises(InvalidRequest):
            harness.decide(method, raw, headers)
        return
    if expected.startswith("/apis/files/"):
        with pytest.raises(InsufficientScope):
            harness.decide(method, raw, headers)
        return
    try:
        decision = harness.decide(method, raw, headers)
    except AuthError as exc:  # only scope/group denials are legitimate here
        raise AssertionError(f"{raw!r} → {expected!r} unexpectedly denied: {exc!r}") from exc
    assert decision.path == expected
    check_normal_form(decision.path)

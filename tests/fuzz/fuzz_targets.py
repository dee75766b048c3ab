"""Coverage-guided fuzz target (atheris/libFuzzer) for the shared core.

Run it for a bounded time (this is what ``make fuzz`` does)::

    .venv/bin/python tests/fuzz/fuzz_targets.py -max_total_time=300
    .venv/bin/python tests/fuzz/fuzz_targets.py -runs=20000 corpus_dir/

Each input picks one entry point and checks the same properties as the
hypothesis tests next to it (``test_fuzz_*.py``); a property violation raises,
which libFuzzer reports as a crash and saves as ``crash-<sha1>`` in the working
directory.  Entry points:

0. ``TokenVerifier.verify`` on arbitrary text: only ``AuthError``, never accepts.
1. ``TokenVerifier.verify`` on a hand-built JWS with fuzzed header/payload JSON.
2. ``HeaderPlan.filter_request`` on fuzzed headers: no identity variant survives.
3. ``normalize_path``: ``InvalidRequest`` or an idempotent safe normal form.
4. ``Gate.decide`` with a valid token, a fuzzed target and spoofed headers:
   the injected identity headers appear exactly once; no identity is injected
   on public paths.
"""

from __future__ import annotations

import os
import sys
import tempfile

import atheris

# The repository root, so the harness imports as a package (tests.fuzz, tests.support).
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

with atheris.instrument_imports(include=["authgate", "jwt"]):
    # Everything the harness imports lazily must be imported here to be instrumented.
    from authgate.core import gate, keys, oidc, rules, verify  # noqa: F401
    from authgate.core.errors import AuthError, InvalidRequest
    from authgate.core.headers import HeaderPlan
    from authgate.core.paths import normalize_path
    from tests.fuzz import fuzz_support as fs

HARNESS = fs.VerifierHarness()
PLAN = HeaderPlan.compile(HARNESS.config.headers)
IDENTITY = {fs.canon(n) for n in PLAN.identity_names}
GOOD_TOKEN = HARNESS.key.sign(fs.good_claims(exp=2**31 - 1))
NAMES = [*PLAN.identity_names, "Connection", "Authorization", "Host", "X-Ok", "Te", "Upgrade"]


def _name(fdp: atheris.FuzzedDataProvider) -> str:
    if fdp.ConsumeBool():
        name = NAMES[fdp.ConsumeIntInRange(0, len(NAMES) - 1)]
        flips = fdp.ConsumeBytes(len(name))
        return "".join(
            (ch.swapcase() if i < len(flips) and flips[i] & 1 else ch).replace(
                "-", "_" if i < len(flips) and flips[i] & 2 else "-"
            )
            for i, ch in enumerate(name)
        )
    return fdp.ConsumeUnicodeNoSurrogates(16) or "X"


def _headers(fdp: atheris.FuzzedDataProvider) -> list[tuple[str, str]]:
    return [
        (_name(fdp), fdp.ConsumeUnicodeNoSurrogates(32))
        for _ in range(fdp.ConsumeIntInRange(0, 12))
    ]


def _verify_text(fdp: atheris.FuzzedDataProvider) -> None:
    fs.rejects(HARNESS, fdp.ConsumeUnicodeNoSurrogates(4096))


def _verify_jws(fdp: atheris.FuzzedDataProvider) -> None:
    header = fdp.ConsumeUnicodeNoSurrogates(256)
    payload = fdp.ConsumeUnicodeNoSurrogates(512)
    sig = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 300))
    token = ".".join((fs.b64url(header.encode()), fs.b64url(payload.encode()), fs.b64url(sig)))
    fs.rejects(HARNESS, token)


def _filter(fdp: atheris.FuzzedDataProvider) -> None:
    try:
        kept = PLAN.filter_request(_headers(fdp))
    except InvalidRequest:  # a refused request forwards nothing (duplicate field, non-UTF-8)
        return
    for name, _ in kept:
        if fs.canon(name) in IDENTITY or PLAN.is_identity(name):
            raise AssertionError(f"identity header survived: {name!r}")


def _normalize(fdp: atheris.FuzzedDataProvider) -> None:
    raw = "/" + fdp.ConsumeUnicodeNoSurrogates(256)
    try:
        out = normalize_path(raw)
    except InvalidRequest:
        return
    fs.check_normal_form(out)
    if normalize_path(out) != out:
        raise AssertionError(f"not idempotent: {raw!r} -> {out!r}")


def _decide(fdp: atheris.FuzzedDataProvider) -> None:
    target = "/" + fdp.ConsumeUnicodeNoSurrogates(128)
    headers = _headers(fdp)
    with_token = fdp.ConsumeBool()
    if with_token:
        headers.append(("Authorization", f"Bearer {GOOD_TOKEN}"))
    try:
        decision = HARNESS.decide("GET", target, headers)
    except AuthError:
        return
    if decision.principal is None:
        for name, _ in decision.upstream_headers:
            if fs.canon(name) in IDENTITY:
                raise AssertionError(f"identity header on an unauthenticated request: {name!r}")
        return
    for name, value in PLAN.inject(decision.principal):
        seen = [v for n, v in decision.upstream_headers if fs.canon(n) == fs.canon(name)]
        if seen != [value]:
            raise AssertionError(f"{name}: expected exactly [{value!r}], got {seen!r}")


TARGETS = (_verify_text, _verify_jws, _filter, _normalize, _decide)


def test_one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    TARGETS[fdp.ConsumeIntInRange(0, len(TARGETS) - 1)](fdp)


def main() -> None:
    argv = list(sys.argv)
    if not any(arg.startswith("-artifact_prefix=") for arg in argv):
        # keep crash-* files out of the working tree (``make fuzz`` runs at the repo root)
        artifacts = os.path.join(tempfile.gettempdir(), "authgate-fuzz") + os.sep
        os.makedirs(artifacts, exist_ok=True)
        argv.append(f"-artifact_prefix={artifacts}")
        print(f"fuzz: crash inputs go to {artifacts}", flush=True)
    atheris.Setup(argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()

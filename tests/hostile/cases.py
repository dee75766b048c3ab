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

The tables live in :mod:`.cases_tokens` and :mod:`.cases_http`, the case model in
:mod:`.case_model`; this module adds the controls and assembles :data:`ALL_CASES`.
The runner (``test_hostile.py``) adds the four checks of every case: the
status, what the upstream saw (nothing at all when rejected; exactly one copy
of each identity header, carrying the token's subject, when forwarded), no
token in the proxy's logs, and no 5xx.
"""

from __future__ import annotations

from .case_model import ID, IDENTITY, SPOOF, STRIPPED_EXTRA, Case, Ctx, Req, bearer, good
from .cases_http import HEADER_CASES, PATH_CASES, SIZE_CASES, WS_CASES
from .cases_tokens import AUTHZ_CASES, JWT_CASES

__all__ = ["ALL_CASES", "ID", "IDENTITY", "SPOOF", "STRIPPED_EXTRA", "Case", "Ctx", "Req"]

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

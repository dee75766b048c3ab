"""What a hostile case is: the proxy's context (:class:`Ctx`), one request (:class:`Req`),
its expected answers (:class:`Case`), and the builders the tables use."""

from __future__ import annotations

import itertools
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


def unsigned(alg: str, sig: bytes = b"") -> Callable[[Ctx], str]:
    """An unsigned (``alg`` none-like) token with ``sig`` as its signature part."""
    return lambda c: forge.unsigned({"alg": alg, "typ": "JWT"}, c.claims("none-user"), sig)

"""The per-request decision: one call from the HTTP layer, no framework types.

``await gate.decide(method, raw_target, headers)`` returns a :class:`Decision`
(forward, with this normalised path and these upstream headers) or raises an
:class:`~authgate.core.errors.AuthError` that the HTTP layer renders as
400/401/403.  Both data paths — aiohttp and the lean asyncio path — call it,
so they cannot disagree about who gets in.

Order of checks (cheap and unauthenticated first):

1. The request target must be origin-form; its path is normalised
   (:func:`~authgate.core.paths.normalize_path`), or the request is refused.
2. More than one ``Authorization`` header → 400 (RFC 6750 §2: one method per
   request); a token in the ``access_token`` query parameter → 400 — together
   with a header it is ambiguous, alone it would end up in access logs
   (RFC 6750 §2.3 discourages it), so it is never accepted.
3. Public path, or ``auth_enabled: false`` → forwarded without a principal
   (identity headers are still stripped).
4. ``Authorization: Bearer <token>`` (scheme case-insensitive, RFC 6750 §2.1)
   → :class:`~authgate.core.verify.TokenVerifier` →
   :class:`~authgate.core.rules.Authorizer` → identity headers injected.
   Without an ``Authorization`` header the registered credential sources
   (:mod:`authgate.core.credentials`, e.g. a browser session cookie) are
   asked in order; the first credential found goes through the same
   authorizer and header injection, and may add response headers.

Everything compiled (rules, header plan, verifier settings) is built once in
:meth:`Gate.from_config`; a cached token costs a hash, two dict lookups and
the header filter.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import unquote

from .config import ProxyConfig
from .credentials import Credential, CredentialRequest, CredentialSource, CredentialSourceFactory
from .errors import InvalidRequest, InvalidToken, MissingToken, VersionNotSupported
from .forwarding import ForwardingPlan
from .headers import HeaderPlan
from .keys import KeyCache
from .paths import normalize_path
from .principal import Principal
from .revocation import RevocationList
from .rules import Authorizer
from .verify import TokenVerifier

__all__ = [
    "AUTHORIZATION_SLACK",
    "Decision",
    "Gate",
    "bad_request_target",
    "bearer_token",
    "check_host",
    "check_version",
    "duplicate_host",
    "missing_host",
]

#: Bytes allowed over ``tokens.max_token_bytes`` in the whole ``Authorization``
#: value: the ``Bearer`` scheme word, its space and stray whitespace.
AUTHORIZATION_SLACK = 16


@dataclass(slots=True)
class Decision:
    """Forward the request: ``path`` is the normalised path that was matched,
    ``upstream_headers`` the filtered client headers plus identity headers
    (X-Forwarded-* are the HTTP layer's job: it knows the peer), and
    ``response_headers`` fields the engines add to the upstream's answer
    (set by a credential source, e.g. ``Set-Cookie`` of a refreshed session)."""

    principal: Principal | None
    path: str
    public: bool
    upstream_headers: list[tuple[str, str]]
    response_headers: tuple[tuple[str, str], ...] = ()


def bearer_token(value: str) -> str:
    """The token of an ``Authorization: Bearer <token>`` value (RFC 6750 §2.1)."""
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "bearer":
        raise MissingToken("a bearer token is required", reason="unsupported_auth_scheme")
    token = token.strip()
    if not token or " " in token:
        raise InvalidToken("the bearer token is empty or malformed", reason="malformed_token")
    return token


#: ``Host = uri-host [ ":" port ]`` (RFC 9110 §7.2, RFC 3986 §3.2.2): an IP
#: literal in brackets, or reg-name / IPv4 characters; no space, ``/``, ``@``.
_HOST = re.compile(r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]*)(?::[0-9]*)?")


def bad_request_target() -> InvalidRequest:
    return InvalidRequest(
        "only origin-form request targets are accepted", reason="bad_request_target"
    )


def duplicate_host() -> InvalidRequest:
    return InvalidRequest("more than one Host header", reason="duplicate_host")


def missing_host() -> InvalidRequest:
    return InvalidRequest("an HTTP/1.1 request needs a Host header", reason="missing_host")


def check_host(headers: Sequence[tuple[str, str]], *, required: bool) -> None:
    """RFC 9112 §3.2: more than one ``Host``, an invalid value, or none on an
    HTTP/1.1 request is answered 400 — never forwarded, never copied into
    ``X-Forwarded-Host`` (host confusion: the app would build URLs from it)."""
    seen = 0
    for name, value in headers:
        if len(name) == 4 and name.lower() == "host":
            seen += 1
            if seen > 1:
                raise duplicate_host()
            if _HOST.fullmatch(value.strip(" \t")) is None:
                raise InvalidRequest("the Host header is not a valid host", reason="invalid_host")
    if required and not seen:
        raise missing_host()


def check_version(version: tuple[int, int], headers: Sequence[tuple[str, str]]) -> None:
    """HTTP/1.0 and 1.1 only (RFC 9112 §2.3): HTTP/0.9 is a ``400``, 2.0 and
    later over this text framing a ``505`` (RFC 9110 §15.6.6).  An HTTP/1.0
    request with ``Transfer-Encoding`` has faulty framing (RFC 9112 §6.1): 400."""
    major, _ = version
    if major == 0:
        raise InvalidRequest("HTTP/0.9 is not supported", reason="bad_request_line")
    if major > 1:
        raise VersionNotSupported()
    if version == (1, 0) and any(
        len(n) == 17 and n.lower() == "transfer-encoding" for n, _ in headers
    ):
        raise InvalidRequest(
            "an HTTP/1.0 request cannot use Transfer-Encoding", reason="bad_framing"
        )


def _query_has_token(query: str) -> bool:
    if "access" not in query.lower() and "%" not in query:
        return False
    for pair in query.split("&"):
        name = pair.split("=", 1)[0]
        if unquote(name.replace("+", " ")).strip().lower() == "access_token":
            return True
    return False


class Gate:
    """Authenticates and authorizes one request at a time (see module docstring)."""

    def __init__(
        self,
        config: ProxyConfig,
        verifier: TokenVerifier,
        authorizer: Authorizer,
        plan: HeaderPlan,
        sources: Sequence[CredentialSource] = (),
    ) -> None:
        self.config = config
        self.verifier = verifier
        self.authorizer = authorizer
        self.plan = plan
        self.sources = tuple(sources)
        self._auth_enabled = config.auth_enabled
        self._max_authorization = config.tokens.max_token_bytes + AUTHORIZATION_SLACK
        self.forwarding = ForwardingPlan(
            config.headers.set_forwarded, tuple(config.server.trusted_proxies)
        )

    @classmethod
    def from_config(
        cls,
        config: ProxyConfig,
        keys: Mapping[str, KeyCache],
        sources: Sequence[CredentialSourceFactory] = (),
        revocations: Mapping[str, RevocationList] | None = None,
    ) -> Gate:
        """Compile everything once; ``keys`` holds one KeyCache per accepted
        issuer, ``sources`` builds the extra credential sources (in order),
        ``revocations`` holds one revocation list per access-key issuer."""
        verifier = TokenVerifier(config, keys, revocations=revocations)
        built = [source for make in sources if (source := make(config, verifier)) is not None]
        return cls(
            config,
            verifier,
            Authorizer(config.authorization),
            HeaderPlan.compile(config.headers),
            built,
        )

    async def decide(
        self,
        method: str,
        raw_target: str,
        headers: Sequence[tuple[str, str]],
        *,
        require_host: bool = False,
        version: tuple[int, int] = (1, 1),
    ) -> Decision:
        """Decide one request; raise :class:`~authgate.core.errors.AuthError` to refuse it.

        ``require_host`` is set by the engines for HTTP/1.1 requests, which
        must carry exactly one ``Host`` (RFC 9112 §3.2); ``version`` is the
        request's HTTP version (:func:`check_version`)."""
        if version != (1, 1):
            check_version(version, headers)
        if raw_target[:1] != "/":
            # Absolute-form and asterisk-form are for proxies and OPTIONS * (RFC 9112
            # §3.2.2-4); a reverse proxy in front of one app accepts origin-form only.
            raise bad_request_target()
        check_host(headers, required=require_host)
        raw_path, _, query = raw_target.partition("?")
        path = normalize_path(raw_path)

        upstream, authorizations = self.plan.scan(headers)
        if len(authorizations) > 1:
            raise InvalidRequest(
                "more than one Authorization header", reason="duplicate_authorization"
            )
        if query and (not query.isascii() or not query.isprintable() or "#" in query):
            # RFC 9112 §3.2: a target has no fragment, and no raw space, control or
            # non-ASCII byte; a ``#`` forwarded upstream would be read differently by
            # different parsers (oauth2-proxy CVE-2026-41059).
            raise InvalidRequest("the query is not valid", reason="invalid_query")
        if query and _query_has_token(query):
            raise InvalidRequest(
                "send the token in the Authorization header, not in the query",
                reason="token_in_query",
            )

        if not self._auth_enabled or self.authorizer.is_public(path):
            return Decision(None, path, True, upstream)

        if not authorizations:
            if self.sources:
                return await self._from_sources(method, path, query, headers, upstream)
            raise MissingToken()
        authorization = authorizations[0]
        if len(authorization) > self._max_authorization:
            raise InvalidToken("the token is too large", reason="token_too_large")
        principal = await self.verifier.verify(bearer_token(authorization))
        self.authorizer.authorize(principal, method, path)
        upstream.extend(self.plan.inject(principal))
        return Decision(principal, path, False, upstream)

    async def _from_sources(
        self,
        method: str,
        path: str,
        query: str,
        headers: Sequence[tuple[str, str]],
        upstream: list[tuple[str, str]],
    ) -> Decision:
        request = CredentialRequest(method, path, query, headers)
        credential: Credential | None = None
        for source in self.sources:
            credential = await source.authenticate(request)
            if credential is not None:
                break
        if credential is None:
            raise MissingToken()
        principal = credential.principal
        self.authorizer.authorize(principal, method, path)
        if credential.rewrite is not None:
            upstream = credential.rewrite(upstream)
        upstream.extend(self.plan.inject(principal))
        return Decision(principal, path, False, upstream, credential.response_headers)


def query_has_token(query: str) -> bool:
    """True when the query string carries an ``access_token`` parameter (in
    any spelling): the gateway checks and the decision cache refuse it the
    same way :meth:`Gate.decide` does."""
    return _query_has_token(query)

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

Everything compiled (rules, header plan, verifier settings) is built once in
:meth:`Gate.from_config`; a cached token costs a hash, two dict lookups and
the header filter.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import unquote

from .config import ProxyConfig
from .errors import InvalidRequest, InvalidToken, MissingToken
from .headers import HeaderPlan
from .keys import KeyCache
from .paths import normalize_path
from .principal import Principal
from .rules import Authorizer
from .verify import TokenVerifier

__all__ = ["Decision", "Gate", "bearer_token"]


@dataclass(slots=True)
class Decision:
    """Forward the request: ``path`` is the normalised path that was matched,
    ``upstream_headers`` the filtered client headers plus identity headers
    (X-Forwarded-* are the HTTP layer's job: it knows the peer).
    ``response_headers`` are added to the upstream's response (the browser
    session's ``Set-Cookie`` after a refresh)."""

    principal: Principal | None
    path: str
    public: bool
    upstream_headers: list[tuple[str, str]]
    response_headers: list[tuple[str, str]] = field(default_factory=list)


def bearer_token(value: str) -> str:
    """The token of an ``Authorization: Bearer <token>`` value (RFC 6750 §2.1)."""
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "bearer":
        raise MissingToken("a bearer token is required", reason="unsupported_auth_scheme")
    token = token.strip()
    if not token or " " in token:
        raise InvalidToken("the bearer token is empty or malformed", reason="malformed_token")
    return token


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
    ) -> None:
        self.config = config
        self.verifier = verifier
        self.authorizer = authorizer
        self.plan = plan
        self._auth_enabled = config.auth_enabled
        self._max_token = config.tokens.max_token_bytes

    @classmethod
    def from_config(cls, config: ProxyConfig, keys: Mapping[str, KeyCache]) -> Gate:
        """Compile everything once; ``keys`` holds one KeyCache per accepted issuer."""
        return cls(
            config,
            TokenVerifier(config, keys),
            Authorizer(config.authorization),
            HeaderPlan.compile(config.headers),
        )

    async def decide(
        self, method: str, raw_target: str, headers: Sequence[tuple[str, str]]
    ) -> Decision:
        """Decide one request; raise :class:`~authgate.core.errors.AuthError` to refuse it."""
        raw_path, _, query = raw_target.partition("?")
        path = normalize_path(raw_path)

        upstream, authorizations = self.plan.scan(headers)
        if len(authorizations) > 1:
            raise InvalidRequest(
                "more than one Authorization header", reason="duplicate_authorization"
            )
        if query and _query_has_token(query):
            raise InvalidRequest(
                "send the token in the Authorization header, not in the query",
                reason="token_in_query",
            )

        if not self._auth_enabled or self.authorizer.is_public(path):
            return Decision(None, path, True, upstream)

        if not authorizations:
            raise MissingToken()
        authorization = authorizations[0]
        if len(authorization) > self._max_token + 16:
            raise InvalidToken("the token is too large", reason="token_too_large")
        principal = await self.verifier.verify(bearer_token(authorization))
        self.authorizer.authorize(principal, method, path)
        upstream.extend(self.plan.inject(principal))
        return Decision(principal, path, False, upstream)

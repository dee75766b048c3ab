"""The answers of gateway mode, framework-free: both engines render these.

:class:`Gatekeeper` answers two kinds of question with a
:class:`GatewayAnswer` (status, headers, body):

* :meth:`Gatekeeper.authenticate` — ``/apis/auth/authenticate``, NeMo
  Platform's gateway callout and the "who am I" of platform services and web
  UIs: the credential is verified exactly as the sidecar verifies it (no path
  rule applies: the question is *who*, not *may they*), and the answer is
  ``200`` with the configured identity headers and
  :func:`~authgate.core.gateway.principal_document` as JSON, or the sidecar's
  401/400 with ``WWW-Authenticate`` (RFC 6750 §3).
* :meth:`Gatekeeper.check` — the nginx ``auth_request``, forward-auth and
  Envoy ``ext_authz`` checks: the original request is read from the check
  request (:func:`~authgate.core.gateway.read_original`, trusted peers only)
  and decided by the very same :meth:`Gate.decide
  <authgate.core.gate.Gate.decide>` as a sidecar request, so the verdict —
  200 with identity headers, 401/403 with a challenge, 400 for a path trick —
  is the sidecar's.

Every answer carries ``Cache-Control: no-store``: an identity answer must
never be stored by a shared cache between the gateway and authgate.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from .config import GatewayConfig
from .decision_cache import DecisionCache, cache_key, forbids_caching
from .errors import AuthError, Forbidden, InvalidRequest, MissingToken
from .gate import Gate, bearer_token, query_has_token
from .gateway import Flavour, principal_document, read_original
from .headers import canonical_name
from .paths import normalize_path
from .principal import Principal

__all__ = ["REALM", "Gatekeeper", "GatewayAnswer"]

#: The RFC 6750 realm of every challenge (the engines use the same).
REALM = "authgate"
_NO_STORE = ("Cache-Control", "no-store")
_JSON = ("Content-Type", "application/json")


@dataclass(slots=True)
class GatewayAnswer:
    """What an engine writes back: ``headers`` include Content-Type when there
    is a body; ``outcome``/``reason``/``principal`` feed the access log and
    metrics."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""
    outcome: str = "allowed"
    reason: str | None = None
    principal: Principal | None = field(default=None, repr=False)


def error_answer(error: AuthError) -> GatewayAnswer:
    """The sidecar's denial for ``error``: status, challenge, short JSON body."""
    headers = [_JSON, _NO_STORE]
    challenge = error.www_authenticate(REALM)
    if challenge is not None:
        headers.append(("WWW-Authenticate", challenge))
    body = json.dumps(error.body(), separators=(",", ":")).encode()
    return GatewayAnswer(error.status, headers, body, "denied", error.reason)


def _authorizations(headers: Sequence[tuple[str, str]]) -> list[str]:
    return [v for n, v in headers if len(n) == 13 and canonical_name(n) == "authorization"]


class Gatekeeper:
    """Gateway-mode answers for one :class:`Gate` (one config generation)."""

    def __init__(self, gate: Gate, config: GatewayConfig) -> None:
        self.gate = gate
        self.config = config
        self.cache = DecisionCache(config.cache_size, config.cache_ttl_seconds)

    # -- /apis/auth/authenticate ----------------------------------------------

    async def authenticate(
        self, raw_target: str, headers: Sequence[tuple[str, str]]
    ) -> GatewayAnswer:
        """Verify the caller's credential; answer its identity (see module docstring)."""
        try:
            principal = await self._verify_only(raw_target, headers)
        except AuthError as exc:
            return error_answer(exc)
        plan = self.gate.plan
        out = [_JSON, _NO_STORE, *plan.inject(principal)]
        body = json.dumps(principal_document(principal), separators=(",", ":")).encode()
        return GatewayAnswer(200, out, body, "allowed", None, principal)

    async def _verify_only(self, raw_target: str, headers: Sequence[tuple[str, str]]) -> Principal:
        _, _, query = raw_target.partition("?")
        authorizations = _authorizations(headers)
        if len(authorizations) > 1:
            raise InvalidRequest(
                "more than one Authorization header", reason="duplicate_authorization"
            )
        if query and query_has_token(query):
            raise InvalidRequest(
                "send the token in the Authorization header, not in the query",
                reason="token_in_query",
            )
        if not authorizations:
            raise MissingToken()
        return await self.gate.verifier.verify(bearer_token(authorizations[0]))

    # -- auth_request / forward-auth / ext_authz --------------------------------

    async def check(
        self,
        flavour: Flavour,
        method: str,
        raw_target: str,
        headers: Sequence[tuple[str, str]],
        *,
        trusted_peer: bool,
    ) -> GatewayAnswer:
        """Decide the original request a trusted gateway asks about."""
        try:
            if not trusted_peer:
                raise Forbidden(
                    "check requests are answered for trusted gateways only "
                    "(server.trusted_proxies)",
                    reason="untrusted_gateway",
                )
            original = read_original(
                flavour, method, raw_target, headers, envoy_prefix=self.config.envoy_path_prefix
            )
            cached = await self._cached(original.method, original.target, headers)
            if cached is not None:
                return cached
            decision = await self.gate.decide(original.method, original.target, headers)
        except AuthError as exc:
            return error_answer(exc)
        if decision.principal is None:
            return GatewayAnswer(200, [_NO_STORE], b"", "public")
        identity = self.gate.plan.inject(decision.principal)
        key = self._key(original.method, decision.path, headers)
        if key is not None:
            self.cache.put(key, decision.principal, identity)
        return GatewayAnswer(200, [_NO_STORE, *identity], b"", "allowed", None, decision.principal)

    def _key(
        self, method: str, path: str, headers: Sequence[tuple[str, str]]
    ) -> tuple[bytes, str, str, str] | None:
        if not self.cache.enabled or forbids_caching(headers):
            return None
        authorizations = _authorizations(headers)
        if len(authorizations) != 1:
            return None
        rule = self.gate.authorizer.rule_for(path)
        return cache_key(authorizations[0], method, path, rule.prefix)

    async def _cached(
        self, method: str, target: str, headers: Sequence[tuple[str, str]]
    ) -> GatewayAnswer | None:
        """A cached allow answer, served only when everything :meth:`Gate.decide`
        checks before the rules would pass and the verifier returns the very
        principal the answer was rendered for."""
        if not self.cache.enabled:
            return None
        raw_path, _, query = target.partition("?")
        if query and query_has_token(query):
            return None
        path = normalize_path(raw_path)
        key = self._key(method, path, headers)
        if key is None:
            return None
        entry = self.cache.get(key)
        if entry is None:
            return None
        try:
            principal = await self.gate.verifier.verify(bearer_token(_authorizations(headers)[0]))
        except AuthError:
            return None  # let the full decision produce the exact error
        if principal is not entry.principal:
            return None
        return GatewayAnswer(200, [_NO_STORE, *entry.headers], b"", "allowed", None, principal)

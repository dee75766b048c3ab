"""The decisions of gateway mode, framework-free: the shared router renders them.

:class:`Gatekeeper` answers two kinds of question with a :class:`Verdict`
(who, and which identity headers to hand back) or raises the
:class:`~authgate.core.errors.AuthError` the sidecar would raise:

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

Every answer must carry ``Cache-Control: no-store``: an identity answer must
never be stored by a shared cache between the gateway and authgate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .config import GatewayConfig
from .decision_cache import CacheKey, DecisionCache, cache_key, forbids_caching
from .errors import AuthError, Forbidden, InvalidRequest, MissingToken
from .gate import Gate, bearer_token, query_has_token
from .gateway import Flavour, read_original
from .headers import canonical_name
from .paths import normalize_path
from .principal import Principal

__all__ = ["Gatekeeper", "Verdict"]


@dataclass(frozen=True, slots=True)
class Verdict:
    """An allow: ``principal`` is ``None`` for a public path (then
    ``identity`` is empty); ``identity`` holds the configured identity headers
    the gateway must copy upstream; ``cached`` tells whether the decision
    cache answered."""

    principal: Principal | None
    identity: tuple[tuple[str, str], ...]
    cached: bool = False


def _authorizations(headers: Sequence[tuple[str, str]]) -> list[str]:
    return [v for n, v in headers if len(n) == 13 and canonical_name(n) == "authorization"]


class Gatekeeper:
    """Gateway-mode decisions for one :class:`Gate` (one config generation)."""

    def __init__(self, gate: Gate, config: GatewayConfig) -> None:
        self.gate = gate
        self.config = config
        self.cache = DecisionCache(config.cache_size, config.cache_ttl_seconds)

    # -- /apis/auth/authenticate ----------------------------------------------

    async def authenticate(self, raw_target: str, headers: Sequence[tuple[str, str]]) -> Verdict:
        """Verify the caller's credential (no path rule: the question is *who*)."""
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
        principal = await self.gate.verifier.verify(bearer_token(authorizations[0]))
        return Verdict(principal, tuple(self.gate.plan.inject(principal)))

    # -- auth_request / forward-auth / ext_authz --------------------------------

    async def check(
        self,
        flavour: Flavour,
        method: str,
        raw_target: str,
        headers: Sequence[tuple[str, str]],
        *,
        trusted_peer: bool,
    ) -> Verdict:
        """Decide the original request a trusted gateway asks about; raise the
        sidecar's :class:`~authgate.core.errors.AuthError` to deny."""
        if not trusted_peer:
            raise Forbidden(
                "check requests are answered for trusted gateways only (server.trusted_proxies)",
                reason="untrusted_gateway",
            )
        original = read_original(
            flavour, method, raw_target, headers, envoy_prefix=self.config.envoy_path_prefix
        )
        cached = await self._cached(original.method, original.target, headers)
        if cached is not None:
            return cached
        decision = await self.gate.decide(original.method, original.target, headers)
        if decision.principal is None:
            return Verdict(None, ())
        identity = tuple(self.gate.plan.inject(decision.principal))
        key = self._key(original.method, decision.path, headers)
        if key is not None:
            self.cache.put(key, decision.principal, identity)
        return Verdict(decision.principal, identity)

    def _key(self, method: str, path: str, headers: Sequence[tuple[str, str]]) -> CacheKey | None:
        if not self.cache.enabled or forbids_caching(headers):
            return None
        authorizations = _authorizations(headers)
        if len(authorizations) != 1:
            return None
        rule = self.gate.authorizer.rule_for(path)
        return cache_key(authorizations[0], method, path, rule.prefix)

    async def _cached(
        self, method: str, target: str, headers: Sequence[tuple[str, str]]
    ) -> Verdict | None:
        """A cached allow, served only when everything :meth:`Gate.decide`
        checks before the rules would pass and the verifier returns the very
        principal the answer was rendered for."""
        if not self.cache.enabled:
            return None
        raw_path, _, query = target.partition("?")
        if query and query_has_token(query):
            return None
        path = normalize_path(raw_path)
        if self.gate.authorizer.is_public(path):
            return None
        key = self._key(method, path, headers)
        if key is None:
            return None
        entry = self.cache.get(key)
        if entry is None:
            return None
        try:
            principal = await self.gate.verifier.verify(bearer_token(_authorizations(headers)[0]))
        except AuthError:  # let the full decision produce the exact answer
            return None
        if principal is not entry.principal:
            return None
        return Verdict(principal, entry.headers, cached=True)

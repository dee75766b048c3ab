"""Authorization: which scopes and groups a request needs.

Rules are compiled once from :class:`~authgate.core.config.AuthorizationConfig`
and matched against the *normalised* path (:mod:`authgate.core.paths`), so a
path trick cannot select a weaker rule than the one the upstream will act on.

* **Public paths** are always allowed: an entry ending in ``/`` is a prefix,
  anything else an exact path.
* **Rules** are per path prefix; the longest matching prefix wins.  A prefix
  matches on segment boundaries: ``/apis/files/`` matches ``/apis/files``,
  ``/apis/files/`` and everything below; ``/apis/files`` does *not* match
  ``/apis/files-admin``.  Paths no rule matches use the default rule.
* **Methods**: ``GET``, ``HEAD`` and ``OPTIONS`` need the read scopes, every
  other method (compared case-sensitively, RFC 9110 §9.1) the write scopes.
  Holding *any one* of the listed scopes is enough.
* **Tokens without API scopes** — no scopes at all, or only the OIDC ones
  (``openid profile email offline_access``) — are refused with ``403
  insufficient_scope`` wherever a rule requires scopes
  (``authorization.scopeless_tokens: deny``, the default).  The NeMo Platform
  lets them skip the scope check for compatibility, but follows the scope
  check with a role-binding check; authgate has no second layer, so that
  behaviour (``scopeless_tokens: allow``) is opt-in: with it, any valid token
  for the audience can ``DELETE`` under a rule that needs ``admin:write``.
* **Groups**: a rule with ``groups`` requires the principal to be in at least
  one of them (403 ``forbidden``, reason ``missing_group``).
"""

from __future__ import annotations

from dataclasses import dataclass

from .config import OIDC_SCOPES, AuthorizationConfig
from .errors import Forbidden, InsufficientScope
from .principal import Principal

__all__ = ["READ_METHODS", "Authorizer", "CompiledRule"]

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """A rule with inherited scopes resolved and its scope string pre-joined."""

    prefix: str
    read_scopes: frozenset[str]
    write_scopes: frozenset[str]
    read_scope_text: str
    write_scope_text: str
    groups: frozenset[str]

    def matches(self, path: str) -> bool:
        prefix = self.prefix
        if prefix.endswith("/"):
            return path.startswith(prefix) or path == prefix[:-1]
        return path == prefix or path.startswith(prefix + "/")


def _compile(
    prefix: str, read: tuple[str, ...], write: tuple[str, ...], groups: tuple[str, ...]
) -> CompiledRule:
    return CompiledRule(
        prefix=prefix,
        read_scopes=frozenset(read),
        write_scopes=frozenset(write),
        read_scope_text=" ".join(read),
        write_scope_text=" ".join(write),
        groups=frozenset(groups),
    )


class Authorizer:
    """Decides whether a verified principal may make a request."""

    def __init__(self, config: AuthorizationConfig) -> None:
        self.config = config
        self._allow_scopeless = config.scopeless_tokens == "allow"
        self._public_exact = frozenset(p for p in config.public_paths if not p.endswith("/"))
        self._public_prefixes = tuple(p for p in config.public_paths if p.endswith("/"))
        self.default_rule = _compile("/", config.read_scopes, config.write_scopes, ())
        rules = [
            _compile(
                rule.path_prefix,
                config.read_scopes if rule.read_scopes is None else rule.read_scopes,
                config.write_scopes if rule.write_scopes is None else rule.write_scopes,
                rule.groups,
            )
            for rule in config.rules
        ]
        rules.sort(key=lambda r: len(r.prefix), reverse=True)
        self.rules: tuple[CompiledRule, ...] = tuple(rules)

    def is_public(self, path: str) -> bool:
        """True for a configured public path (exact) or one under a public prefix."""
        if path in self._public_exact:
            return True
        return any(path.startswith(prefix) for prefix in self._public_prefixes)

    def rule_for(self, path: str) -> CompiledRule:
        """The longest-prefix rule for ``path``, or the default rule."""
        for rule in self.rules:
            if rule.matches(path):
                return rule
        return self.default_rule

    def authorize(self, principal: Principal, method: str, path: str) -> None:
        """Return if allowed; raise :class:`InsufficientScope` or :class:`Forbidden`."""
        rule = self.rule_for(path)
        if rule.groups and rule.groups.isdisjoint(principal.groups):
            raise Forbidden("the principal is not in a required group", reason="missing_group")
        if method in READ_METHODS:
            required, text = rule.read_scopes, rule.read_scope_text
        else:
            required, text = rule.write_scopes, rule.write_scope_text
        if not required:
            return
        scopes = principal.scopes
        if self._allow_scopeless and (not scopes or OIDC_SCOPES.issuperset(scopes)):
            return  # scopeless_tokens: allow — the NeMo Platform behaviour, opted into
        if required.isdisjoint(scopes):
            raise InsufficientScope(f"this request needs one of the scopes: {text}", scope=text)

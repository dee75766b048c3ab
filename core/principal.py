"""Who made the request: the verified identity the rest of authgate acts on.

A :class:`Principal` is built only by :mod:`authgate.core.verify` from a token
whose signature and claims were checked, so everything downstream (rules,
identity headers, access log) can trust it without looking at the token.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Principal"]


@dataclass(frozen=True, slots=True)
class Principal:
    """A verified identity.

    ``scopes`` have ``oidc.scope_prefix`` already stripped; ``expires_at`` is
    the token's ``exp`` (Unix seconds) or ``None``; ``quickstart`` marks an
    identity taken from an unsigned quickstart token.  ``kind`` is the kind of
    issuer entry that vouched for it (``oidc``, ``kubernetes``, ...) and
    ``source`` that entry's name; ``attributes`` are extra verified facts
    (``pod_name``, ``pod_uid``) that the header plan may pass upstream.
    """

    subject: str
    email: str | None = None
    groups: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ()
    issuer: str = ""
    audience: tuple[str, ...] = ()
    expires_at: float | None = None
    quickstart: bool = False
    kind: str = "oidc"
    source: str = "idp"
    attributes: tuple[tuple[str, str], ...] = ()

    def attribute(self, name: str) -> str | None:
        """The value of attribute ``name``, or ``None``."""
        for key, value in self.attributes:
            if key == name:
                return value
        return None

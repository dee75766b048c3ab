"""Which scopes to request, and how the IdP wants them spelled.

Some IdPs (Entra ID) only issue custom API scopes when they are requested with
the API's identifier in front: ``api://nmp/platform:read``. The discovery
document publishes that ``scope_prefix``; the client prepends it to *custom*
scopes, which we recognise as containing ``:`` or ending in ``.default``.
Standard OIDC scopes (``openid``, ``profile``, ``email``, ``offline_access``)
are never prefixed, and a scope that already carries the prefix (or is itself
a URI such as ``api://other/x``) is left alone.
"""

from __future__ import annotations

from collections.abc import Iterable

OIDC_SCOPES = frozenset({"openid", "profile", "email", "offline_access", "address", "phone"})


def split_scopes(value: str | Iterable[str] | None) -> list[str]:
    """Space-delimited string or iterable → list of scopes, order kept, duplicates dropped."""
    if value is None:
        return []
    items = (
        value.split()
        if isinstance(value, str)
        else [part for item in value for part in item.split()]
    )
    seen: dict[str, None] = {}
    for item in items:
        seen.setdefault(item, None)
    return list(seen)


def is_custom(scope: str) -> bool:
    """A custom API scope: contains ':' or ends in '.default' (and is not a standard one)."""
    if scope in OIDC_SCOPES:
        return False
    return ":" in scope or scope.endswith(".default")


def apply_prefix(scope: str, prefix: str) -> str:
    if not prefix or not is_custom(scope) or scope.startswith(prefix) or "://" in scope:
        return scope
    return prefix + scope


def requested_scopes(
    default_scopes: str | None, overrides: Iterable[str] = (), prefix: str = ""
) -> str:
    """The ``scope`` parameter to send (RFC 6749 §3.3).

    ``overrides`` (the ``--scope`` flags) replace the discovery document's
    ``default_scopes`` when given; either way custom scopes get ``prefix``.
    """
    chosen = split_scopes(list(overrides)) or split_scopes(default_scopes)
    return " ".join(apply_prefix(scope, prefix) for scope in chosen)

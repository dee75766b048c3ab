"""Checks that several parts of the config share: URLs, scope tokens, loopback hosts.

They sit below :mod:`.validation` and :mod:`.issuer_checks` (both use them), so
neither has to import the other.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from .schema import ErrorList

__all__ = ["SCOPE_RE", "check_scopes", "check_url", "is_loopback_host"]

SCOPE_RE = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]+$")  # RFC 6749 §3.3 scope-token


def is_loopback_host(host: str) -> bool:
    """True for ``localhost``, 127.0.0.0/8 and ::1 (optionally in brackets)."""
    host = host.strip().strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(
    value: str | None, path: str, errors: ErrorList, *, schemes: tuple[str, ...], strict: bool
) -> None:
    """An absolute URL with one of ``schemes``, a host, no userinfo and — when
    ``strict`` (IdP URLs) — https unless the host is loopback, no query or fragment."""
    if value is None or path in errors.bad:
        return
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        errors.add(path, "must not contain whitespace or control characters")
        return
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        errors.add(path, f"not a valid URL: {exc}")
        return
    if parts.scheme not in schemes or not parts.hostname:
        errors.add(path, f"must be an absolute {' or '.join(schemes)} URL, got {value!r}")
        return
    if parts.username is not None or parts.password is not None:
        errors.add(path, "must not contain credentials")
    if parts.fragment or "#" in value:
        errors.add(path, "must not contain a fragment")
    if strict:
        if parts.scheme != "https" and not is_loopback_host(parts.hostname):
            errors.add(path, "must use https (http is allowed for loopback hosts only)")
        if parts.query:
            errors.add(path, "must not contain a query")


def check_scopes(
    scopes: tuple[str, ...] | None, path: str, errors: ErrorList, *, allow_empty: bool
) -> None:
    if scopes is None or path in errors.bad:
        return
    if not scopes and not allow_empty:
        errors.add(path, "must not be empty (omit it to inherit the default)")
    for i, scope in enumerate(scopes):
        if not SCOPE_RE.match(scope):
            errors.add(f"{path}[{i}]", f"not a valid scope token (RFC 6749 §3.3): {scope!r}")

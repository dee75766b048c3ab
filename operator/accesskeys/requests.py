"""Parsing and checking API request bodies: every bad input is a clear 400/422
with the field named, never a 500 (and never an echo of a token).

Bodies are JSON objects of at most :data:`MAX_BODY_BYTES`; unknown members are
refused (a typo such as ``expires_in`` must not silently mint a 30-day key).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from authgate.core.config import OIDC_SCOPES

from .policy import AccessKeyPolicy

__all__ = [
    "MAX_BODY_BYTES",
    "ApiError",
    "CreateRequest",
    "RotateRequest",
    "parse_create",
    "parse_json_body",
    "parse_paging",
    "parse_rotate",
]

MAX_BODY_BYTES = 16 * 1024
MAX_SCOPES = 32
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._:@-]{0,62}")
_SCOPE = re.compile(r"[\x21-\x7e]{1,256}")  # RFC 6749 §3.3 scope-token characters
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")


class ApiError(Exception):
    """An answer other than success: HTTP ``status`` with a JSON body."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description

    def body(self) -> dict[str, str]:
        return {"error": self.error, "description": self.description}


def _bad(description: str) -> ApiError:
    return ApiError(400, "invalid_request", description)


def parse_json_body(raw: bytes) -> dict[str, Any]:
    """An empty body is ``{}``; anything else must be one JSON object."""
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise _bad("the body is not valid JSON") from None
    if not isinstance(value, dict):
        raise _bad("the body must be a JSON object")
    return value


def _only(body: Mapping[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        shown = ", ".join(repr(u[:64]) for u in unknown[:5])
        raise _bad(f"unknown field(s) {shown}; allowed: {', '.join(sorted(allowed))}")


def _int(body: Mapping[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(f"'{name}' must be an integer number of seconds")
    if value < 0:
        raise _bad(f"'{name}' must not be negative")
    return value


def _text(body: Mapping[str, Any], name: str, limit: int) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _bad(f"'{name}' must be a string")
    if len(value) > limit:
        raise _bad(f"'{name}' is longer than {limit} characters")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise _bad(f"'{name}' contains control characters")
    return value


@dataclass(frozen=True, slots=True)
class CreateRequest:
    name: str
    description: str
    expires_in_seconds: int | None  # None: the policy's default; 0: never
    scopes: tuple[str, ...] | None  # None: every scope the creator has
    service_account: tuple[str, str] | None  # (namespace, name)


def _scopes(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        items: list[Any] = value.split()
    elif isinstance(value, list):
        items = value
    else:
        raise _bad("'scope' must be a list of strings or a space-separated string")
    if len(items) > MAX_SCOPES:
        raise _bad(f"'scope' has more than {MAX_SCOPES} entries")
    out: dict[str, None] = {}
    for item in items:
        if not isinstance(item, str) or not _SCOPE.fullmatch(item):
            raise _bad("each scope must be 1-256 visible ASCII characters without spaces")
        out.setdefault(item, None)
    if not out:
        raise _bad("'scope' is empty; omit it to get every scope you have")
    return tuple(out)


def _service_account(value: Any, namespace: str) -> tuple[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 253:
        raise _bad("'service_account' must be '<name>' or '<namespace>/<name>'")
    ns, _, name = value.rpartition("/")
    ns = ns or namespace
    if not _DNS_LABEL.fullmatch(ns) or not _DNS_LABEL.fullmatch(name):
        raise _bad(
            "'service_account' must be '<name>' or '<namespace>/<name>' (lowercase DNS labels)"
        )
    return ns, name


def parse_create(body: Mapping[str, Any], namespace: str) -> CreateRequest:
    _only(body, {"name", "description", "expires_in_seconds", "scope", "service_account"})
    name = _text(body, "name", 63)
    if name is None:
        raise _bad("'name' is required")
    if not _NAME.fullmatch(name):
        raise _bad(
            "'name' must be 1-63 characters: letters, digits and ' ._:@-', "
            "starting with a letter or digit"
        )
    return CreateRequest(
        name=name,
        description=_text(body, "description", 512) or "",
        expires_in_seconds=_int(body, "expires_in_seconds"),
        scopes=_scopes(body.get("scope")),
        service_account=_service_account(body.get("service_account"), namespace),
    )


@dataclass(frozen=True, slots=True)
class RotateRequest:
    grace_period_seconds: int | None
    expires_in_seconds: int | None


def parse_rotate(body: Mapping[str, Any]) -> RotateRequest:
    _only(body, {"grace_period_seconds", "expires_in_seconds"})
    return RotateRequest(_int(body, "grace_period_seconds"), _int(body, "expires_in_seconds"))


def check_expiry(requested: int | None, policy: AccessKeyPolicy) -> int | None:
    """The lifetime in seconds (None: never expires) for ``expires_in_seconds``."""
    if requested is None:
        return policy.effective_default_expiry()
    if requested == 0:
        if not policy.never_expiring_allowed:
            raise ApiError(
                422,
                "invalid_expiry",
                "keys that never expire are not allowed: this provider has a "
                f"maximum lifetime of {policy.max_expiry_seconds} s",
            )
        return None
    if requested < 60:
        raise ApiError(422, "invalid_expiry", "'expires_in_seconds' must be at least 60")
    if policy.max_expiry_seconds and requested > policy.max_expiry_seconds:
        raise ApiError(
            422,
            "invalid_expiry",
            f"'expires_in_seconds' exceeds this provider's maximum of "
            f"{policy.max_expiry_seconds} s",
        )
    return requested


def check_scopes(requested: tuple[str, ...] | None, held: tuple[str, ...]) -> tuple[str, ...]:
    """The key's scopes: a subset of what the creator holds (OIDC scopes never count)."""
    usable = tuple(s for s in held if s not in OIDC_SCOPES)
    if requested is None:
        if not usable:
            raise ApiError(
                403, "insufficient_scope", "your token carries no scope a key could be given"
            )
        return usable
    extra = [s for s in requested if s not in held]
    if extra:
        shown = " ".join(s[:64] for s in extra[:5])
        raise ApiError(
            403, "scope_escalation", f"a key cannot carry scopes you do not have: {shown}"
        )
    return requested


def parse_paging(query: Mapping[str, str]) -> tuple[int, int]:
    def number(name: str, default: int, high: int) -> int:
        raw = query.get(name)
        if raw is None:
            return default
        if not raw.isdigit() or len(raw) > 9 or not 1 <= int(raw) <= high:
            raise _bad(f"'{name}' must be an integer from 1 to {high}")
        return int(raw)

    return number("page", 1, 1_000_000), number("page_size", 20, 100)

"""Detecting a local clock that is far off.

A clock that is off by minutes makes tokens look expired (or not yet valid) to
whoever compares ``exp``/``nbf`` with it. The client does not use ``exp`` for
its own refresh decisions (see :mod:`authgate.client.tokens`), but the user
should still know, because other tools on the machine will break. We estimate
the offset from the freshly issued token's ``iat`` (the IdP's clock at issue
time) and, failing that, from the HTTP ``Date`` header (RFC 9110 §6.6.1).
"""

from __future__ import annotations

import time
from email.utils import parsedate_to_datetime

from authgate.client.tokens import claims

# Beyond this the user is warned; IdPs and the proxy tolerate ~60 s of leeway.
SKEW_WARNING_SECONDS = 120.0


def offset_from_iat(access_token: str, now: float | None = None) -> float | None:
    """Local clock minus the IdP's clock, from a token issued just now; None if unknown."""
    iat = claims(access_token).get("iat")
    if not isinstance(iat, int | float) or isinstance(iat, bool):
        return None
    return (time.time() if now is None else now) - float(iat)


def offset_from_date_header(value: str | None, now: float | None = None) -> float | None:
    """Local clock minus the server's clock, from an HTTP ``Date`` header (1 s resolution)."""
    if not value:
        return None
    try:
        server = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None
    return (time.time() if now is None else now) - server


def describe_offset(offset: float) -> str:
    direction = "ahead of" if offset > 0 else "behind"
    return f"{human_duration(abs(offset))} {direction}"


def skew_warning(offset: float | None) -> str | None:
    """A warning for the user when the offset is beyond tolerance, else None."""
    if offset is None or abs(offset) < SKEW_WARNING_SECONDS:
        return None
    return (
        f"your clock is about {describe_offset(offset)} the identity provider's; "
        "tokens may be rejected as expired or not yet valid. Sync it (e.g. enable NTP)."
    )


def human_duration(seconds: float) -> str:
    """``3h 2m``, ``4m 10s``, ``12s``: short and readable."""
    seconds = round(seconds)
    if seconds < 0:
        return "-" + human_duration(-seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"

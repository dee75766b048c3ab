"""Cookie names and attributes, the request's origin, and the CSRF check.

Cookie attributes (RFC 6265bis):

* ``__Host-`` prefix: the browser accepts the cookie only with ``Secure``,
  ``Path=/`` and no ``Domain``, so a sibling subdomain can neither set nor
  shadow it (§4.1.3.2).  With ``browser.cookie_domain`` the prefix becomes
  ``__Secure-`` (a Domain cookie cannot be ``__Host-``).
* ``HttpOnly``: page scripts (and so XSS) cannot read the session.
* ``SameSite=Lax``: the cookie rides top-level navigations (the IdP's redirect
  back to the callback is one) but not cross-site subrequests or POSTs.
* The only exception is explicit: ``browser.insecure_http_loopback`` with a
  loopback ``Host`` drops ``Secure`` and the prefix, because browsers refuse
  prefixed cookies over plain http.

CSRF (state-changing requests authenticated by the cookie; OWASP CSRF
Prevention Cheat Sheet, "Fetch Metadata" and "Verifying Origin"): allowed
when ``Sec-Fetch-Site`` is ``same-origin`` or ``none``; otherwise the
``Origin`` must be this origin or a configured trusted one; with neither
header the request is refused.  Bearer-authenticated requests never reach
this check.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..config import is_loopback_host
from ..headers import is_owned_cookie
from ..headers import strip_owned_cookies as _strip

__all__ = ["CookiePolicy", "RequestOrigin", "csrf_allowed", "request_origin"]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_HOST = re.compile(
    r"(?P<name>[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})|\[[0-9A-Fa-f:.]{2,45}\])(?::(?P<port>[0-9]{1,5}))?"
)


@dataclass(frozen=True, slots=True)
class RequestOrigin:
    """``scheme://host[:port]`` the browser used, and whether cookies are Secure."""

    scheme: str
    host: str  # as in the Host header (validated)
    loopback: bool

    @property
    def origin(self) -> str:
        return f"{self.scheme}://{self.host}"

    @property
    def secure(self) -> bool:
        return self.scheme == "https"


def request_origin(host_header: str | None, *, insecure_loopback: bool) -> RequestOrigin | None:
    """The origin of a request from its ``Host``; ``None`` when the Host is
    missing or not a plain host[:port] (then no login can start)."""
    if not host_header:
        return None
    match = _HOST.fullmatch(host_header.strip())
    if match is None:
        return None
    port = match.group("port")
    if port is not None and not 0 < int(port) <= 65535:
        return None
    loopback = is_loopback_host(match.group("name"))  # the rule config checks use too
    scheme = "http" if (insecure_loopback and loopback) else "https"
    return RequestOrigin(scheme, host_header.strip().lower(), loopback)


@dataclass(frozen=True, slots=True)
class CookiePolicy:
    """Names and attributes of the session and login-state cookies."""

    domain: str | None = None
    base: str = "authgate"

    def prefix(self, origin: RequestOrigin) -> str:
        if not origin.secure:
            return ""
        return "__Secure-" if self.domain else "__Host-"

    def session_name(self, origin: RequestOrigin) -> str:
        return f"{self.prefix(origin)}{self.base}-session"

    def login_name(self, origin: RequestOrigin, state: str) -> str:
        return f"{self.prefix(origin)}{self.base}-login-{state[:16]}"

    def login_prefix(self, origin: RequestOrigin) -> str:
        return f"{self.prefix(origin)}{self.base}-login-"

    def owned(self, name: str) -> bool:
        """True for every cookie name this policy may have set (any prefix)."""
        return is_owned_cookie(name, self.base)

    def set_cookie(self, origin: RequestOrigin, name: str, value: str, max_age: int) -> str:
        """A ``Set-Cookie`` value (RFC 6265bis §4.1)."""
        parts = [
            f"{name}={value}",
            "Path=/",
            f"Max-Age={max(0, int(max_age))}",
            "HttpOnly",
            "SameSite=Lax",
        ]
        if origin.secure:
            parts.append("Secure")
        if self.domain and origin.secure:
            parts.append(f"Domain={self.domain}")
        return "; ".join(parts)

    def clear(self, origin: RequestOrigin, names: Iterable[str]) -> list[str]:
        return [self.set_cookie(origin, name, "", 0) for name in names]


def strip_owned_cookies(policy: CookiePolicy, values: Sequence[str]) -> str | None:
    """The ``Cookie`` header without authgate's own cookies (``None`` when
    nothing is left).  The header plan does the same for every request
    (:func:`authgate.core.headers.strip_owned_cookies`)."""
    return _strip(values, policy.base)


def csrf_allowed(
    method: str,
    origin: RequestOrigin,
    sec_fetch_site: str | None,
    origin_header: str | None,
    trusted_origins: frozenset[str],
) -> bool:
    """True when a cookie-authenticated request may proceed (module docstring)."""
    if method.upper() in SAFE_METHODS:
        return True
    allowed = {origin.origin, *trusted_origins}
    site = (sec_fetch_site or "").strip().lower()
    if site in ("same-origin", "none"):
        return origin_header is None or origin_header.strip().lower() in allowed
    if origin_header is not None:
        return origin_header.strip().lower() in allowed
    return False

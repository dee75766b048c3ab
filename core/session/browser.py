"""The browser session as a credential source, and who gets a login redirect.

The session cookie is not a new kind of credential: it is decrypted into the
access token the IdP issued, which then goes through the same
:class:`~authgate.core.gate.Gate` (verifier, rules, identity headers) as a
bearer token.  This module decides, for one request and with no framework
types:

* :meth:`BrowserSessions.credential` — before the gate: read the session
  cookie (reassembling chunks), refresh the access token when it nears
  expiry (the new cookie goes out as ``Set-Cookie`` on the response), apply
  the CSRF check to state-changing requests, hand the gate an
  ``Authorization: Bearer`` header, and remove authgate's cookies from what
  the upstream will see.  A request that carries its own ``Authorization``
  header is bearer-authenticated: its cookie is ignored (but still stripped).
* :meth:`BrowserSessions.denied` — after the gate refused with 401: a
  *navigation* (``GET``/``HEAD``, ``Accept`` with ``text/html``, no
  ``Authorization``, ``Sec-Fetch-Mode`` absent or ``navigate``, not under a
  ``browser.never_redirect`` path) is redirected to the IdP; everything
  else keeps the JSON 401.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ..errors import AuthError, Forbidden
from .cookies import CookiePolicy, RequestOrigin, csrf_allowed, request_origin, strip_owned_cookies
from .crypto import SessionInvalid, chunk_names, join_chunks, parse_cookie_header, split_value
from .flow import LoginFailed, LoginFlow, SessionData
from .redirect import safe_return_path

__all__ = ["Answer", "BrowserSessions", "SessionCredential"]

log = logging.getLogger("authgate.core.session")

CALLBACK_PATH = "/apis/auth/callback"
MAX_LOGIN_COOKIES = 4


@dataclass(slots=True)
class Answer:
    """A complete response the HTTP layer sends as is."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""


@dataclass(slots=True)
class SessionCredential:
    """What the cookie contributed to one request."""

    headers: list[tuple[str, str]]  # for the gate: Authorization added, our cookies gone
    response_headers: list[tuple[str, str]] = field(default_factory=list)  # Set-Cookie
    session: SessionData | None = None
    origin: RequestOrigin | None = None
    had_cookie: bool = False  # a session cookie was sent (valid or not)


def _values(headers: Sequence[tuple[str, str]], name: str) -> list[str]:
    return [v for k, v in headers if k.lower() == name]


def _first(headers: Sequence[tuple[str, str]], name: str) -> str | None:
    found = _values(headers, name)
    return found[0] if found else None


def _path_matches(path: str, patterns: tuple[str, ...]) -> bool:
    return any(path == p or (p.endswith("/") and path.startswith(p)) for p in patterns)


class BrowserSessions:
    """Per-provider browser sign-in state (one per runtime snapshot)."""

    def __init__(
        self,
        flow: LoginFlow,
        policy: CookiePolicy,
        *,
        insecure_loopback: bool,
        refresh_before: float,
        never_redirect: tuple[str, ...],
        trusted_origins: tuple[str, ...],
        redirect_url: str | None = None,
        post_logout_url: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.flow = flow
        self.policy = policy
        self.insecure_loopback = insecure_loopback
        self.refresh_before = refresh_before
        self.never_redirect = never_redirect
        self.trusted_origins = frozenset(o.lower() for o in trusted_origins)
        self.redirect_url = redirect_url
        self.post_logout_url = post_logout_url
        self._clock = clock

    # -- helpers ---------------------------------------------------------------

    def origin(self, headers: Sequence[tuple[str, str]]) -> RequestOrigin | None:
        return request_origin(_first(headers, "host"), insecure_loopback=self.insecure_loopback)

    def redirect_uri(self, origin: RequestOrigin) -> str:
        return self.redirect_url or origin.origin + CALLBACK_PATH

    def read_session(
        self, origin: RequestOrigin, cookies: dict[str, str]
    ) -> tuple[SessionData | None, bool]:
        """``(session or None, whether a session cookie was present)``."""
        sealed = join_chunks(self.policy.session_name(origin), cookies)
        if sealed is None:
            return None, False
        try:
            payload = self.flow.keyring().open("session", sealed, now=self._clock())
            return SessionData.from_payload(payload), True
        except SessionInvalid as exc:
            log.info("session cookie refused", extra={"reason": exc.reason})
            return None, True

    def session_cookies(
        self, origin: RequestOrigin, session: SessionData, present: dict[str, str]
    ) -> list[tuple[str, str]]:
        """``Set-Cookie`` headers storing ``session`` (chunked), clearing stale chunks."""
        name = self.policy.session_name(origin)
        sealed = self.flow.keyring().seal(
            "session", session.to_payload(), expires_at=session.expires_at
        )
        max_age = int(session.expires_at - self._clock())
        pairs = split_value(name, sealed)
        written = {n for n, _ in pairs}
        out = [("Set-Cookie", self.policy.set_cookie(origin, n, v, max_age)) for n, v in pairs]
        stale = [n for n in chunk_names(name) if n in present and n not in written]
        out.extend(("Set-Cookie", c) for c in self.policy.clear(origin, stale))
        return out

    def clear_session(
        self, origin: RequestOrigin, present: dict[str, str]
    ) -> list[tuple[str, str]]:
        names = [n for n in chunk_names(self.policy.session_name(origin)) if n in present]
        return [("Set-Cookie", c) for c in self.policy.clear(origin, names)]

    # -- before the gate ---------------------------------------------------------

    async def credential(
        self, method: str, headers: Sequence[tuple[str, str]]
    ) -> SessionCredential:
        """See the module docstring.  Raises :class:`Forbidden` (``csrf``)."""
        cookie_values = _values(headers, "cookie")
        forwarded = [(k, v) for k, v in headers if k.lower() != "cookie"]
        if cookie_values:
            kept = strip_owned_cookies(self.policy, cookie_values)
            if kept is not None:
                forwarded.append(("Cookie", kept))
        origin = self.origin(headers)
        result = SessionCredential(forwarded, origin=origin)
        if origin is None or not cookie_values or _first(headers, "authorization") is not None:
            return result
        cookies = parse_cookie_header(cookie_values)
        session, result.had_cookie = self.read_session(origin, cookies)
        if session is None:
            if result.had_cookie:
                result.response_headers = self.clear_session(origin, cookies)
            return result
        if not csrf_allowed(
            method,
            origin,
            _first(headers, "sec-fetch-site"),
            _first(headers, "origin"),
            self.trusted_origins,
        ):
            raise Forbidden("cross-site request refused for a cookie session", reason="csrf")
        if session.access_expires_at - self._clock() <= self.refresh_before:
            refreshed = await self.flow.refresh(session)
            if refreshed is None:
                log.info("session refresh refused; signing in again", extra={"reason": "refresh"})
                result.response_headers = self.clear_session(origin, cookies)
                return result
            session = refreshed
            result.response_headers = self.session_cookies(origin, session, cookies)
        result.session = session
        result.headers.append(("Authorization", f"Bearer {session.access_token}"))
        return result

    # -- after a refusal -----------------------------------------------------------

    def is_navigation(self, method: str, path: str, headers: Sequence[tuple[str, str]]) -> bool:
        if method.upper() not in ("GET", "HEAD") or _first(headers, "authorization") is not None:
            return False
        mode = _first(headers, "sec-fetch-mode")
        if mode is not None and mode.strip().lower() != "navigate":
            return False
        accept = ",".join(_values(headers, "accept")).lower()
        if "text/html" not in accept:
            return False
        return not (path.startswith("/apis/auth/") or _path_matches(path, self.never_redirect))

    def denied(
        self,
        method: str,
        raw_target: str,
        path: str,
        headers: Sequence[tuple[str, str]],
        exc: AuthError,
        credential: SessionCredential | None,
    ) -> Answer | None:
        """A login redirect for a refused navigation, else ``None`` (the JSON error)."""
        if exc.status != 401 or not self.is_navigation(method, path, headers):
            return None
        origin = self.origin(headers)
        if origin is None:
            return None
        cookies = parse_cookie_header(_values(headers, "cookie"))
        try:
            answer = self.start_login(origin, safe_return_path(raw_target), cookies)
        except LoginFailed:
            return None  # IdP metadata not loaded yet: the plain 401 is the honest answer
        if credential is None or credential.had_cookie:
            answer.headers.extend(self.clear_session(origin, cookies))
        return answer

    def clear_unusable(
        self, exc: AuthError, headers: Sequence[tuple[str, str]]
    ) -> list[tuple[str, str]]:
        """``Set-Cookie`` clearing the session cookie of a request refused with
        401 without an ``Authorization`` header: the cookie was the credential,
        and it was expired, damaged or could not be refreshed."""
        if exc.status != 401 or _first(headers, "authorization") is not None:
            return []
        origin = self.origin(headers)
        if origin is None:
            return []
        return self.clear_session(origin, parse_cookie_header(_values(headers, "cookie")))

    def start_login(self, origin: RequestOrigin, return_to: str, cookies: dict[str, str]) -> Answer:
        """302 to the IdP's authorization endpoint, with the sealed login cookie."""
        url, state, sealed = self.flow.begin(return_to, self.redirect_uri(origin))
        prefix = self.policy.login_prefix(origin)
        headers: list[tuple[str, str]] = [("Location", url), ("Cache-Control", "no-store")]
        pending = [n for n in cookies if n.startswith(prefix)]
        if len(pending) >= MAX_LOGIN_COOKIES:  # many abandoned logins: start clean
            headers.extend(("Set-Cookie", c) for c in self.policy.clear(origin, pending))
        name = self.policy.login_name(origin, state)
        cookie = self.policy.set_cookie(origin, name, sealed, int(self.flow.login_timeout))
        headers.append(("Set-Cookie", cookie))
        return Answer(302, headers)

"""``/apis/auth/login``, ``/callback``, ``/logout`` and ``/session``: one
framework-free handler both engines (and the shared router) call.

Every answer is complete (status, headers, body).  Failures of the callback
are small HTML pages for the person in front of the browser — escaped,
``Content-Security-Policy: default-src 'none'``, ``no-store`` — with the
reason code and a link to start again; the IdP's ``error_description`` and
any other user-supplied text are never echoed.
"""

from __future__ import annotations

import html
import json
import logging
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl, quote

from ..errors import InvalidToken
from .browser import Answer, BrowserSessions, _first, _values
from .cookies import csrf_allowed
from .crypto import parse_cookie_header
from .flow import MAX_PARAM, LoginFailed
from .redirect import safe_return_path

__all__ = ["BROWSER_PATHS", "handle_browser_endpoint"]

log = logging.getLogger("authgate.core.session")

LOGIN_PATH = "/apis/auth/login"
CALLBACK_PATH = "/apis/auth/callback"
LOGOUT_PATH = "/apis/auth/logout"
SESSION_PATH = "/apis/auth/session"
BROWSER_PATHS = frozenset({LOGIN_PATH, CALLBACK_PATH, LOGOUT_PATH, SESSION_PATH})
MAX_QUERY = 8192
_ERROR_CODE = re.compile(r"[a-z_]{1,64}")
_NO_STORE = [("Cache-Control", "no-store"), ("Pragma", "no-cache")]


def _json(status: int, body: dict[str, Any], extra: Sequence[tuple[str, str]] = ()) -> Answer:
    headers = [("Content-Type", "application/json"), *_NO_STORE, *extra]
    return Answer(status, headers, json.dumps(body, separators=(",", ":")).encode())


def _page(
    status: int,
    title: str,
    message: str,
    reason: str,
    retry: str | None,
    extra: Sequence[tuple[str, str]] = (),
) -> Answer:
    link = f'<p><a href="{html.escape(retry)}">Sign in again</a></p>' if retry else ""
    body = (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{html.escape(title)}</title></head><body>"
        f"<h1>{html.escape(title)}</h1><p>{html.escape(message)}</p>{link}"
        f"<p><small>reason: {html.escape(reason)}</small></p></body></html>"
    )
    headers = [
        ("Content-Type", "text/html; charset=utf-8"),
        *_NO_STORE,
        ("Content-Security-Policy", "default-src 'none'"),
        *extra,
    ]
    return Answer(status, headers, body.encode())


def _query(raw_target: str) -> dict[str, str] | None:
    query = raw_target.partition("?")[2]
    if len(query) > MAX_QUERY:
        return None
    params: dict[str, str] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key in params or len(value) > MAX_PARAM:
            return None  # a repeated or oversized parameter is never ours
        params[key] = value
    return params


async def handle_browser_endpoint(
    sessions: BrowserSessions,
    method: str,
    path: str,
    raw_target: str,
    headers: Sequence[tuple[str, str]],
) -> Answer:
    """Serve one of :data:`BROWSER_PATHS` (the caller checked ``path``)."""
    origin = sessions.origin(headers)
    if origin is None:
        return _json(
            400,
            {
                "error": "invalid_request",
                "reason": "bad_host",
                "description": "the Host header is missing or malformed",
            },
        )
    params = _query(raw_target)
    if params is None:
        return _page(
            400,
            "Sign-in failed",
            "The request carried an oversized or repeated parameter.",
            "oversized_parameter",
            LOGIN_PATH,
        )
    cookies = parse_cookie_header(_values(headers, "cookie"))
    allowed = {"GET", "HEAD"} | ({"POST"} if path == LOGOUT_PATH else set())
    if method.upper() not in allowed:
        return _json(
            405,
            {
                "error": "invalid_request",
                "reason": "method_not_allowed",
                "description": "method not allowed",
            },
            [("Allow", ", ".join(sorted(allowed)))],
        )
    if path == LOGIN_PATH:
        try:
            return sessions.start_login(origin, safe_return_path(params.get("rd")), cookies)
        except LoginFailed as exc:
            return _page(exc.status, "Sign-in unavailable", str(exc), exc.reason, None)
    if path == CALLBACK_PATH:
        return await _callback(sessions, origin, params, cookies)
    if path == LOGOUT_PATH:
        return _logout(sessions, method, origin, headers, cookies)
    return await _session(sessions, origin, cookies)


async def _callback(
    sessions: BrowserSessions, origin: Any, params: dict[str, str], cookies: dict[str, str]
) -> Answer:
    state = params.get("state", "")
    login_cookie = sessions.policy.login_name(origin, state) if state else None
    clear = sessions.policy.clear(origin, [login_cookie]) if login_cookie in cookies else []
    clear_headers = [("Set-Cookie", c) for c in clear]
    error = params.get("error")
    retry = LOGIN_PATH
    try:
        if not state:
            raise LoginFailed("missing_state", "the sign-in answer has no state")
        login = sessions.flow.open_login(state, cookies.get(login_cookie or ""))
        return_to = safe_return_path(login.get("r"))
        retry = f"{LOGIN_PATH}?rd={quote(return_to, safe='/')}"
        if error is not None:
            code = error if _ERROR_CODE.fullmatch(error) else "invalid"
            raise LoginFailed(f"idp_{code}", "the identity provider did not sign you in", 403)
        code_param = params.get("code")
        if not code_param:
            raise LoginFailed("missing_code", "the sign-in answer has no code")
        session, principal = await sessions.flow.complete(code_param, login, params.get("iss"))
    except LoginFailed as exc:
        log.info("sign-in failed", extra={"reason": exc.reason})
        return _page(exc.status, "Sign-in failed", str(exc), exc.reason, retry, clear_headers)
    log.info("signed in", extra={"subject": principal.subject[:128]})
    headers = [
        ("Location", return_to),
        *_NO_STORE,
        *clear_headers,
        *sessions.session_cookies(origin, session, cookies),
    ]
    return Answer(302, headers)


def _logout(
    sessions: BrowserSessions,
    method: str,
    origin: Any,
    headers: Sequence[tuple[str, str]],
    cookies: dict[str, str],
) -> Answer:
    site = (_first(headers, "sec-fetch-site") or "").lower()
    # A logout link is a same-origin GET (or one typed in: no Fetch Metadata);
    # a cross-site page must not be able to sign the user out, by GET or POST.
    lenient = method.upper() in ("GET", "HEAD") and site not in ("cross-site", "same-site")
    if not lenient and not csrf_allowed(
        "POST", origin, site or None, _first(headers, "origin"), sessions.trusted_origins
    ):
        return _json(
            403,
            {
                "error": "insufficient_scope",
                "reason": "csrf",
                "description": "cross-site logout refused",
            },
        )
    session, _ = sessions.read_session(origin, cookies)
    clear = sessions.clear_session(origin, cookies)
    clear.extend(
        ("Set-Cookie", c)
        for c in sessions.policy.clear(
            origin, [n for n in cookies if n.startswith(sessions.policy.login_prefix(origin))]
        )
    )
    after = sessions.post_logout_url or origin.origin + "/"
    target = sessions.flow.logout_url(session, after) or "/"
    return Answer(302, [("Location", target), *_NO_STORE, *clear])


async def _session(sessions: BrowserSessions, origin: Any, cookies: dict[str, str]) -> Answer:
    session, present = sessions.read_session(origin, cookies)
    extra: list[tuple[str, str]] = []
    if (
        session is not None
        and session.access_expires_at - sessions._clock() <= sessions.refresh_before
    ):
        refreshed = await sessions.flow.refresh(session)
        session = refreshed
        extra = (
            sessions.session_cookies(origin, refreshed, cookies)
            if refreshed is not None
            else sessions.clear_session(origin, cookies)
        )
    principal = None
    if session is not None:
        try:
            principal = await sessions.flow.access_verifier.verify(session.access_token)
        except InvalidToken:
            principal = None
    if session is None or principal is None:
        if present and not extra:
            extra = sessions.clear_session(origin, cookies)
        return _json(401, {"authenticated": False, "login_url": LOGIN_PATH}, extra)
    return _json(
        200,
        {
            "authenticated": True,
            "subject": principal.subject,
            "email": principal.email,
            "groups": list(principal.groups),
            "scopes": list(principal.scopes),
            "expires_at": int(session.expires_at),
            "access_token_expires_at": int(session.access_expires_at),
            "logout_url": LOGOUT_PATH,
        },
        extra,
    )

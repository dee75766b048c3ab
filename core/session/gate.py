"""The gate both engines call when browser sign-in is on: the same
``decide(method, raw_target, headers)`` as :class:`~authgate.core.gate.Gate`,
with the browser's parts around it, so neither engine decides anything itself.

1. ``/apis/auth/{login,callback,logout,session}`` are answered here
   (:class:`BrowserAnswer`, a complete response).
2. The session cookie becomes an ``Authorization`` header for the inner gate
   (:meth:`BrowserSessions.credential`; CSRF, refresh, cookie stripping).
3. A refusal of a navigation becomes a login redirect; other refusals stay
   the RFC 6750 JSON answers (with any ``Set-Cookie`` that clears a bad session).
4. A forwarded request carries the refreshed cookie in ``response_headers``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ..errors import AuthError
from ..gate import Decision, Gate
from .browser import Answer, BrowserSessions
from .endpoints import BROWSER_PATHS, handle_browser_endpoint

__all__ = ["BrowserAnswer", "BrowserGate"]


class BrowserAnswer(AuthError):
    """Not an error: a complete response (status, headers, body) the HTTP
    layer sends as is.  It is an :class:`AuthError` so a layer that does not
    know it still answers with its status instead of forwarding."""

    default_reason = "browser"

    def __init__(self, answer: Answer, reason: str = "browser") -> None:
        super().__init__("browser sign-in answer", reason=reason)
        self.status = answer.status
        self.answer = answer


def _with_headers(exc: AuthError, extra: list[tuple[str, str]], realm: str) -> BrowserAnswer:
    headers = [("Content-Type", "application/json"), ("Cache-Control", "no-store"), *extra]
    challenge = exc.www_authenticate(realm)
    if challenge is not None:
        headers.append(("WWW-Authenticate", challenge))
    body = json.dumps(exc.body(), separators=(",", ":")).encode()
    return BrowserAnswer(Answer(exc.status, headers, body), exc.reason)


class BrowserGate:
    """:class:`Gate` plus browser sign-in (see the module docstring)."""

    def __init__(self, gate: Gate, browser: BrowserSessions, realm: str = "authgate") -> None:
        self.inner = gate
        self.browser = browser
        self.realm = realm

    def __getattr__(self, name: str) -> Any:  # config, verifier, authorizer, plan
        return getattr(self.inner, name)

    async def decide(
        self, method: str, raw_target: str, headers: Sequence[tuple[str, str]]
    ) -> Decision:
        path = raw_target.split("?", 1)[0]
        if path in BROWSER_PATHS:
            answer = await handle_browser_endpoint(self.browser, method, path, raw_target, headers)
            raise BrowserAnswer(answer, reason=path.rsplit("/", 1)[1])
        credential = await self.browser.credential(method, headers)
        try:
            decision = await self.inner.decide(method, raw_target, credential.headers)
        except AuthError as exc:
            redirect = self.browser.denied(method, raw_target, path, headers, exc, credential)
            if redirect is not None:
                raise BrowserAnswer(redirect, reason="login_redirect") from None
            if credential.response_headers:
                raise _with_headers(exc, credential.response_headers, self.realm) from None
            raise
        decision.response_headers.extend(credential.response_headers)
        return decision

"""The browser session cookie as a Gate credential source
(:mod:`authgate.core.credentials`).

The cookie is decrypted into the access token the IdP issued, which is then
verified exactly as a bearer token is (same verifier, rules, identity
headers).  authgate's own cookies never reach the upstream: the header plan
(:mod:`authgate.core.headers`) removes them from every request.
"""

from __future__ import annotations

from ..credentials import Credential, CredentialRequest
from ..verify import TokenVerifier
from .browser import BrowserSessions

__all__ = ["SessionCookieSource"]


class SessionCookieSource:
    """The encrypted session cookie (CSRF check, silent refresh), verified as a
    bearer token would be."""

    name = "session_cookie"

    def __init__(self, browser: BrowserSessions, verifier: TokenVerifier) -> None:
        self.browser = browser
        self.verifier = verifier

    async def authenticate(self, request: CredentialRequest) -> Credential | None:
        found = await self.browser.credential(request.method, request.headers)
        if found.session is None:
            return None  # no (valid) session: the refusal hook clears it and redirects
        principal = await self.verifier.verify(found.session.access_token)
        # authgate's cookies are already gone from the upstream list (the header plan).
        return Credential(principal, tuple(found.response_headers))

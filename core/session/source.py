"""The browser session cookie as a Gate credential source
(:mod:`authgate.core.credentials`).

The cookie is decrypted into the access token the IdP issued, which is then
verified exactly as a bearer token is (same verifier, rules, identity
headers); authgate's own cookies are removed from what the upstream sees.
"""

from __future__ import annotations

from ..credentials import Credential, CredentialRequest
from ..verify import TokenVerifier
from .browser import BrowserSessions
from .cookies import strip_owned_cookies

__all__ = ["SessionCookieSource"]


class SessionCookieSource:
    """The encrypted session cookie (CSRF check, silent refresh), verified as a
    bearer token would be; authgate's own cookies never reach the upstream."""

    name = "session_cookie"

    def __init__(self, browser: BrowserSessions, verifier: TokenVerifier) -> None:
        self.browser = browser
        self.verifier = verifier

    def _strip(self, headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
        values = [v for k, v in headers if k.lower() == "cookie"]
        out = [(k, v) for k, v in headers if k.lower() != "cookie"]
        if values:
            kept = strip_owned_cookies(self.browser.policy, values)
            if kept is not None:
                out.append(("Cookie", kept))
        return out

    async def authenticate(self, request: CredentialRequest) -> Credential | None:
        found = await self.browser.credential(request.method, request.headers)
        if found.session is None:
            return None  # no (valid) session: the refusal hook clears it and redirects
        principal = await self.verifier.verify(found.session.access_token)
        return Credential(principal, tuple(found.response_headers), self._strip)


"""The OIDC authorization code flow with PKCE, against the IdP (no I/O of its own).

* **PKCE** (RFC 7636) with ``S256`` only: a 64-character verifier from 48
  random bytes (§4.1), its SHA-256 as the challenge (§4.2).  PKCE is used
  for confidential clients too (RFC 9700 §2.1.1).
* **state** (RFC 6749 §10.12) is random and bound to a short-lived sealed
  login cookie holding the verifier, the nonce and where to land; the
  callback must present the same state *and* the cookie.  Used states are
  remembered until they expire, so a replayed callback fails even with the
  cookie copied.
* **nonce** (OIDC Core §3.1.2.1, §3.1.3.7 step 11) must come back in the ID
  token, which is verified by the same :class:`~authgate.core.verify.TokenVerifier`
  as bearer tokens (signature, issuer, exp), with the web client as audience.
* **iss** in the authorization response (RFC 9207), when the IdP sends it,
  must be the configured issuer (mix-up defense).
* Token endpoint calls go through an injected :data:`Poster`, like the key
  cache's fetcher; the client secret (confidential client) is sent with HTTP
  Basic (RFC 6749 §2.3.1) and never logged.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from ..errors import InvalidToken, ReasonedError
from ..oidc import FetchError, FetchResult
from ..principal import Principal
from ..verify import TokenVerifier, decode_segment, parse_json_object
from .crypto import Keyring, SessionInvalid

__all__ = ["Endpoints", "LoginFailed", "LoginFlow", "Poster", "SessionData", "pkce_pair"]

#: ``async (url, form, headers) -> FetchResult``: one POST with a form body.
Poster = Callable[[str, Mapping[str, str], Mapping[str, str]], Awaitable[FetchResult]]

MAX_PARAM = 4096  # a code, state or error longer than this is hostile
_USED_STATES = 8192


class LoginFailed(ReasonedError):
    """The login cannot complete; ``reason`` is a stable code, ``status`` 400 or 502.
    The message is ours, never the IdP's or the user's text."""

    def __init__(self, reason: str, message: str, status: int = 400) -> None:
        super().__init__(reason, message)
        self.status = status


@dataclass(frozen=True, slots=True)
class Endpoints:
    authorization: str
    token: str
    end_session: str | None = None


@dataclass(frozen=True, slots=True)
class SessionData:
    """What the session cookie holds (sealed): enough to act for the user."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    id_token: str | None = field(repr=False)
    access_expires_at: float
    expires_at: float  # the session's own end
    subject: str
    email: str | None = None

    def to_payload(self) -> dict[str, Any]:
        return {
            "at": self.access_token,
            "rt": self.refresh_token,
            "it": self.id_token,
            "ate": int(self.access_expires_at),
            "sub": self.subject,
            "em": self.email,
        }

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> SessionData:
        at, ate, sub, exp = (
            payload.get("at"),
            payload.get("ate"),
            payload.get("sub"),
            payload.get("exp"),
        )
        if not (
            isinstance(at, str)
            and isinstance(ate, int)
            and isinstance(sub, str)
            and isinstance(exp, int)
        ):
            raise SessionInvalid("malformed")
        rt, it, em = payload.get("rt"), payload.get("it"), payload.get("em")
        return cls(
            at,
            rt if isinstance(rt, str) else None,
            it if isinstance(it, str) else None,
            float(ate),
            float(exp),
            sub,
            em if isinstance(em, str) else None,
        )


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def pkce_pair() -> tuple[str, str]:
    """``(code_verifier, code_challenge)`` for S256 (RFC 7636 §4.1-4.2)."""
    verifier = _b64(secrets.token_bytes(48))
    return verifier, _b64(hashlib.sha256(verifier.encode("ascii")).digest())


@dataclass(frozen=True, slots=True)
class Client:
    client_id: str
    secret: str | None = field(default=None, repr=False)
    scopes: str = "openid"


class LoginFlow:
    """Starts logins, completes callbacks and refreshes sessions for one provider."""

    def __init__(
        self,
        client: Client,
        issuer: str,
        keyring: Callable[[], Keyring],
        endpoints: Callable[[], Endpoints | None],
        post: Poster,
        id_verifier: TokenVerifier,
        access_verifier: TokenVerifier,
        *,
        login_timeout: float = 600.0,
        session_lifetime: float = 28800.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.issuer = issuer
        self.keyring = keyring  # called on every use: keys rotate under us
        self._endpoints = endpoints
        self._post = post
        self._id_verifier = id_verifier
        self.access_verifier = access_verifier
        self.login_timeout = login_timeout
        self.session_lifetime = session_lifetime
        self._clock = clock
        self._used: dict[str, float] = {}
        self._refreshing: dict[str, asyncio.Future[SessionData | None]] = {}

    def endpoints(self) -> Endpoints:
        found = self._endpoints()
        if found is None:
            raise LoginFailed("idp_unavailable", "the identity provider is not reachable yet", 503)
        return found

    # -- start ---------------------------------------------------------------

    def begin(self, return_to: str, redirect_uri: str) -> tuple[str, str, str]:
        """``(authorization URL, state, sealed login-cookie value)``."""
        endpoints = self.endpoints()
        state = _b64(secrets.token_bytes(24))
        nonce = _b64(secrets.token_bytes(24))
        verifier, challenge = pkce_pair()
        sealed = self.keyring().seal(
            "login",
            {"s": state, "n": nonce, "v": verifier, "r": return_to, "u": redirect_uri},
            expires_at=self._clock() + self.login_timeout,
        )
        params = {
            "response_type": "code",
            "client_id": self.client.client_id,
            "redirect_uri": redirect_uri,
            "scope": self.client.scopes,
            "state": state,
            "nonce": nonce,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        sep = "&" if "?" in endpoints.authorization else "?"
        return endpoints.authorization + sep + urlencode(params, quote_via=quote), state, sealed

    # -- callback ------------------------------------------------------------

    def open_login(self, state: str, sealed: str | None) -> dict[str, Any]:
        """The login cookie's payload for ``state`` (checks binding and replay)."""
        if sealed is None:
            raise LoginFailed(
                "unknown_state", "this sign-in link has expired or was not started here"
            )
        try:
            login = self.keyring().open("login", sealed, now=self._clock())
        except SessionInvalid as exc:
            raise LoginFailed(
                f"login_cookie_{exc.reason}", "this sign-in attempt has expired"
            ) from None
        expected = login.get("s")
        if not isinstance(expected, str) or not hmac.compare_digest(expected, state):
            raise LoginFailed("state_mismatch", "this sign-in link does not belong to this browser")
        self._forget_old()
        if state in self._used:
            raise LoginFailed("replayed_state", "this sign-in link was already used")
        self._used[state] = float(login["exp"])
        return login

    def _forget_old(self) -> None:
        now = self._clock()
        for key in [k for k, exp in self._used.items() if exp <= now]:
            del self._used[key]
        while len(self._used) >= _USED_STATES:
            del self._used[next(iter(self._used))]

    async def complete(
        self, code: str, login: Mapping[str, Any], iss: str | None
    ) -> tuple[SessionData, Principal]:
        """Exchange ``code``, verify the tokens; the new session and its principal."""
        if iss is not None and iss != self.issuer:
            raise LoginFailed("issuer_mismatch", "the sign-in answer came from another issuer")
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": str(login.get("u", "")),
            "code_verifier": str(login.get("v", "")),
        }
        tokens = await self._token_request(form, "code_rejected")
        id_token = tokens.get("id_token")
        if not isinstance(id_token, str):
            raise LoginFailed("no_id_token", "the identity provider sent no ID token", 502)
        claims = await self._verify_id_token(id_token)
        nonce = claims.get("nonce")
        if not isinstance(nonce, str) or not hmac.compare_digest(nonce, str(login.get("n", ""))):
            raise LoginFailed("nonce_mismatch", "the ID token does not belong to this sign-in")
        return await self._session(tokens, id_token, self._clock() + self.session_lifetime)

    async def _verify_id_token(self, id_token: str) -> dict[str, Any]:
        try:
            await self._id_verifier.verify(id_token)
        except InvalidToken as exc:
            raise LoginFailed(f"id_token_{exc.reason}", "the ID token is not valid") from None
        payload = id_token.split(".")[1]
        claims = parse_json_object(decode_segment(payload, "payload"), "payload")
        azp = claims.get("azp")
        if azp is not None and azp != self.client.client_id:  # OIDC Core §3.1.3.7 step 5
            raise LoginFailed("id_token_bad_azp", "the ID token was issued to another client")
        return claims

    async def _session(
        self, tokens: Mapping[str, Any], id_token: str | None, ends: float
    ) -> tuple[SessionData, Principal]:
        access = tokens.get("access_token")
        if not isinstance(access, str):
            raise LoginFailed("no_access_token", "the identity provider sent no access token", 502)
        try:
            principal = await self.access_verifier.verify(access)
        except InvalidToken as exc:
            raise LoginFailed(
                f"access_token_{exc.reason}",
                "the access token is not accepted here (audience or scopes?)",
                403,
            ) from None
        refresh = tokens.get("refresh_token")
        expires = principal.expires_at or (
            self._clock() + float(tokens.get("expires_in", 300) or 300)
        )
        session = SessionData(
            access,
            refresh if isinstance(refresh, str) else None,
            id_token,
            expires,
            ends,
            principal.subject,
            principal.email,
        )
        return session, principal

    async def _token_request(self, form: dict[str, str], failure: str) -> dict[str, Any]:
        endpoints = self.endpoints()
        headers = {"Accept": "application/json"}
        if self.client.secret is not None:
            pair = f"{quote(self.client.client_id, safe='')}:{quote(self.client.secret, safe='')}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        else:
            form["client_id"] = self.client.client_id
        try:
            result = await self._post(endpoints.token, form, headers)
        except (FetchError, TimeoutError, OSError):
            raise LoginFailed(
                "idp_unreachable", "the identity provider could not be reached", 502
            ) from None
        if result.status in (400, 401):
            raise LoginFailed(failure, "the identity provider refused the sign-in code")
        if result.status != 200:
            raise LoginFailed("idp_error", "the identity provider answered with an error", 502)
        try:
            tokens = json.loads(result.body)
        except ValueError:
            tokens = None
        if not isinstance(tokens, dict):
            raise LoginFailed("idp_bad_response", "the identity provider's answer is not JSON", 502)
        return tokens

    # -- refresh ---------------------------------------------------------------

    async def refresh(self, session: SessionData) -> SessionData | None:
        """A session with fresh tokens, or ``None`` when the IdP refuses (the
        user must sign in again).  Concurrent refreshes of one session share
        one token request (refresh tokens may be single-use)."""
        if session.refresh_token is None:
            return None
        key = hashlib.sha256(session.refresh_token.encode()).hexdigest()
        running = self._refreshing.get(key)
        if running is None:
            running = asyncio.ensure_future(self._refresh(session))
            self._refreshing[key] = running
            running.add_done_callback(lambda _f: self._refreshing.pop(key, None))
        return await asyncio.shield(running)

    async def _refresh(self, session: SessionData) -> SessionData | None:
        form = {"grant_type": "refresh_token", "refresh_token": session.refresh_token or ""}
        try:
            tokens = await self._token_request(form, "refresh_rejected")
            new, _ = await self._session(tokens, None, session.expires_at)
        except LoginFailed:
            return None
        id_token = tokens.get("id_token")
        return SessionData(
            new.access_token,
            new.refresh_token or session.refresh_token,
            id_token if isinstance(id_token, str) else session.id_token,
            new.access_expires_at,
            session.expires_at,
            new.subject,
            new.email,
        )

    # -- logout ----------------------------------------------------------------

    def logout_url(self, session: SessionData | None, post_logout: str) -> str | None:
        """The IdP's end_session URL (OIDC RP-Initiated Logout 1.0 §2), or None."""
        endpoints = self._endpoints()
        if endpoints is None or endpoints.end_session is None:
            return None
        params = {"client_id": self.client.client_id, "post_logout_redirect_uri": post_logout}
        if session is not None and session.id_token:
            params["id_token_hint"] = session.id_token
        sep = "&" if "?" in endpoints.end_session else "?"
        return endpoints.end_session + sep + urlencode(params, quote_via=quote)

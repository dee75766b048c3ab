"""Token exchange (RFC 8693): trade a workload's token for a narrower platform token.

A workload often already holds a token: a user's token handed to a service, a
token for a token service, a CI system's OIDC token.  Instead of sending that
broad token to the platform, the client asks the IdP's token endpoint for a new
one (``grant_type=urn:ietf:params:oauth:grant-type:token-exchange``, §2.1) with
the workload's token as ``subject_token`` and, optionally, a narrower
``audience`` and ``scope``.

* **Subject.** A file (re-read when it changes, like ``AUTHGATE_TOKEN_FILE``:
  the kubelet and CI agents rotate token files) or a token given directly.
  ``exchange_source`` tells them apart without ever echoing a token: a
  ``pathlib.Path``, an existing file, or a string with ``/`` or ``~`` in it is a
  path; a JWT-shaped string is a token.
* **Who asks.** A confidential client (``AUTHGATE_CLIENT_ID`` /
  ``AUTHGATE_CLIENT_SECRET``, sent with HTTP Basic as for client credentials),
  else the platform's public client from discovery (many IdPs, Keycloak among
  them, only let confidential clients exchange; the error then says so).
* **Renewal.** The exchanged token is exchanged again when less than the margin
  is left (capped at half its lifetime, as for every login) and whenever the
  subject file holds a new token, so a rotated subject is picked up at once.
* **Errors.** An unusable subject is :class:`CredentialSourceError` (exit 12);
  an IdP that refuses the exchange is :class:`ExchangeRejected` (exit 7); an
  IdP that does not implement the grant, or not for this client, is
  :class:`ExchangeUnsupported` (exit 13).  Messages carry OAuth error codes,
  the IdP's description and file paths, never a token.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

import httpx

from authgate.client.client_credentials import (
    CLIENT_ID_ENV,
    CLIENT_SECRET_ENV,
    basic_auth,
    default_scope,
    env_secret,
)
from authgate.client.discovery import Discovery, fetch_discovery, unavailable_idp
from authgate.client.errors import (
    CredentialSourceError,
    ExitCode,
    LoginRejected,
    SessionExpired,
    UsageError,
)
from authgate.client.oauth import OAuthError, token_request
from authgate.client.scopes import requested_scopes
from authgate.client.sources import TokenFile, check_token
from authgate.client.tokens import TokenSet
from authgate.client.transport import DEFAULT_TIMEOUT, origin, sync_client

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:token-exchange"
TOKEN_TYPES = {
    "access_token": "urn:ietf:params:oauth:token-type:access_token",
    "jwt": "urn:ietf:params:oauth:token-type:jwt",
    "id_token": "urn:ietf:params:oauth:token-type:id_token",
}
_JWT = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$")


class ExchangeRejected(LoginRejected):
    """The IdP refused to exchange the subject token (RFC 8693 §2.2.2)."""


class ExchangeUnsupported(LoginRejected):
    """The IdP does not offer token exchange, or not to this client."""

    exit_code = ExitCode.EXCHANGE_UNSUPPORTED


class Subject:
    """Where the subject token comes from: a file (re-read on change) or a fixed token."""

    def __init__(
        self, *, token: str | None = None, file: TokenFile | None = None, where: str
    ) -> None:
        self._token, self.file, self.where = token, file, where

    @property
    def path(self) -> str | None:
        return self.file.path if self.file is not None else None

    def read(self, *, force: bool = False) -> str:
        if self.file is not None:
            return self.file.read(force=force)
        assert self._token is not None
        return self._token


def exchange_source(value: str | os.PathLike[str], where: str = "exchange_from") -> Subject:
    """A :class:`Subject` for ``value`` (see the module doc for path versus token)."""
    if isinstance(value, os.PathLike):
        return _file_subject(os.fspath(value), where)
    text = value.strip()
    if not text:
        raise CredentialSourceError(f"{where} is empty", hint="pass a token file's path or a token")
    looks_like_path = (
        "/" in text or text.startswith("~") or os.path.exists(os.path.expanduser(text))
    )
    if looks_like_path and not _JWT.match(text):
        return _file_subject(text, where)
    named = where if _JWT.match(text) else f"{where} (taken as a token: no file of that name)"
    return Subject(token=check_token(text, where), where=named)


def _file_subject(path: str, where: str) -> Subject:
    token_file = TokenFile(
        os.path.expanduser(path),
        label=f"{where}={path}",
        hint=f"point {where} at a readable file holding one token",
    )
    token_file.read()  # fail now, naming the file, rather than on the first request
    return Subject(file=token_file, where=f"{where}={path}")


@dataclass(frozen=True)
class ExchangeSettings:
    """What to ask for, and as whom."""

    client_id: str | None = None
    client_secret: str | None = None
    audience: str | None = None
    scopes: tuple[str, ...] = ()
    subject_token_type: str = TOKEN_TYPES["access_token"]

    @classmethod
    def create(
        cls,
        *,
        client_id: str | None = None,
        client_secret: str | None = None,
        audience: str | None = None,
        scopes: str | Iterable[str] | None = None,
        subject_token_type: str | None = None,
    ) -> ExchangeSettings:
        """Settings with ``AUTHGATE_CLIENT_ID`` / ``AUTHGATE_CLIENT_SECRET`` as defaults."""
        kind = subject_token_type or "access_token"
        if kind not in TOKEN_TYPES and not kind.startswith("urn:"):
            raise UsageError(
                f"unknown subject token type {kind!r}",
                hint="use " + ", ".join(TOKEN_TYPES) + " or a token type URN",
            )
        chosen_id = client_id or os.environ.get(CLIENT_ID_ENV, "").strip() or None
        secret = client_secret if client_secret is not None else env_secret()
        if secret and not chosen_id:
            raise UsageError(
                "a client secret is set but no client id",
                hint=f"set {CLIENT_ID_ENV} or pass client_id=",
            )
        listed = scopes.split() if isinstance(scopes, str) else list(scopes or ())
        return cls(
            chosen_id, secret or None, audience or None, tuple(listed), TOKEN_TYPES.get(kind, kind)
        )


ExchangeArgs = tuple[str | os.PathLike[str], ExchangeSettings]


def exchange_args(
    exchange_from: str | os.PathLike[str] | None,
    audience: str | None,
    scope: str | Iterable[str] | None,
    client_id: str | None,
    client_secret: str | None,
    subject_token_type: str | None,
) -> ExchangeArgs | None:
    """``Client(exchange_from=...)`` and its companions (which mean nothing without it)."""
    if exchange_from is None:
        if audience or scope or client_id or client_secret or subject_token_type:
            raise UsageError(
                "exchange_audience=, exchange_scope=, client_id=, client_secret= "
                "and subject_token_type= need exchange_from="
            )
        return None
    return exchange_from, ExchangeSettings.create(
        client_id=client_id,
        client_secret=client_secret,
        audience=audience,
        scopes=scope,
        subject_token_type=subject_token_type,
    )


def exchange(
    http: httpx.Client,
    discovery: Discovery,
    subject: str,
    settings: ExchangeSettings,
    *,
    base_url: str,
    where: str,
) -> TokenSet:
    """One exchange at the IdP's token endpoint; the new token set (grant ``token_exchange``)."""
    endpoint = discovery.token_endpoint
    if not endpoint:
        raise unavailable_idp(base_url, discovery)
    client_id = settings.client_id or discovery.client_id
    if not client_id:
        raise UsageError(
            "no client to exchange the token as",
            hint=f"set {CLIENT_ID_ENV} and {CLIENT_SECRET_ENV} (a confidential "
            "client allowed to exchange tokens)",
        )
    form = {
        "grant_type": GRANT_TYPE,
        "subject_token": subject,
        "subject_token_type": settings.subject_token_type,
        "requested_token_type": TOKEN_TYPES["access_token"],
        **discovery.token_request_params,
    }
    if settings.audience:
        form["audience"] = settings.audience
    scope = requested_scopes(
        default_scope(discovery.default_scopes), settings.scopes, discovery.scope_prefix
    )
    if scope:
        form["scope"] = scope
    headers: dict[str, str] = {}
    if settings.client_secret:
        headers["Authorization"] = basic_auth(client_id, settings.client_secret)
    else:
        form["client_id"] = client_id
    try:
        body: dict[str, Any] = token_request(http, endpoint, form, headers=headers)
    except OAuthError as exc:
        raise _refusal(
            exc,
            client_id,
            confidential=bool(settings.client_secret),
            idp=origin(endpoint),
            where=where,
        ) from None
    tokens = TokenSet.from_response(body, grant="token_exchange")
    # RFC 8693 §2.2.1: a refresh token is optional; without one the login is renewed by
    # exchanging again (the subject is the credential), so none is kept.
    return replace(
        tokens,
        refresh_token=None,
        id_token=None,
        scope=tokens.scope or scope or None,
        client_id=settings.client_id,
        client_secret=settings.client_secret,
        audience=settings.audience,
    )


def _refusal(
    exc: OAuthError, client_id: str, *, confidential: bool, idp: str, where: str
) -> LoginRejected:
    """Map the IdP's error answer (RFC 8693 §2.2.2, RFC 6749 §5.2) to a named refusal.

    Keycloak's answers, measured: wrong secret ``401 unauthorized_client``; exchange
    off for the client (also every public client) ``invalid_request: Standard token
    exchange is not enabled ...``; an audience that is no client ``invalid_client:
    Audience not found``; a subject not naming the client ``403 access_denied``."""
    detail = exc.detail()
    text = (exc.description or "").lower()
    if exc.error == "unsupported_grant_type":
        return ExchangeUnsupported(
            f"the identity provider at {idp} does not support token exchange (RFC 8693) ({detail})",
            hint="use another login method, or enable token exchange at the identity provider",
            error=exc.error,
        )
    if "not enabled" in text or (exc.error == "unauthorized_client" and exc.status != 401):
        return ExchangeUnsupported(
            f"the identity provider at {idp} does not let client {client_id!r} exchange "
            f"tokens ({detail})",
            hint="use a confidential client with token exchange enabled at the identity "
            "provider (Keycloak: the client's 'Standard token exchange' switch), named "
            f"by {CLIENT_ID_ENV} and {CLIENT_SECRET_ENV}",
            error=exc.error,
        )
    if exc.error in ("invalid_scope", "invalid_target") or (
        "audience" in text and ("not found" in text or "not available" in text)
    ):
        what = "scope" if exc.error == "invalid_scope" else "audience"
        return ExchangeRejected(
            f"the identity provider at {idp} refused the requested {what} ({detail})",
            hint=f"ask for a {what} client {client_id!r} may request (Keycloak: an audience is "
            "a client id the client's own tokens already carry)",
            error=exc.error,
        )
    if exc.error in ("invalid_client", "unauthorized_client") or exc.status == 401:
        why = (
            "wrong, rotated or revoked secret"
            if confidential
            else "it is a public client; most identity providers let only confidential "
            "clients exchange tokens"
        )
        return ExchangeRejected(
            f"the identity provider at {idp} rejected client {client_id!r} for token "
            f"exchange: {why} ({detail})",
            hint=f"set {CLIENT_ID_ENV} and {CLIENT_SECRET_ENV} to a confidential client "
            "allowed to exchange tokens",
            error=exc.error,
        )
    return ExchangeRejected(
        f"the identity provider at {idp} refused to exchange the subject token from "
        f"{where} ({detail})",
        hint="the subject token may be expired, from another issuer, or not meant for "
        f"client {client_id!r} (its audience must name that client)",
        error=exc.error,
    )


class Exchanger:
    """The SDK's exchanged token: exchanged on first use, again before it expires and
    whenever the subject token changes (thread-safe; blocking)."""

    def __init__(
        self,
        subject: Subject,
        settings: ExchangeSettings,
        *,
        base_url: str,
        ca_file: str | None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    ) -> None:
        self.subject, self.settings = subject, settings
        self.base_url, self.ca_file, self.timeout = base_url, ca_file, timeout
        self._lock = threading.Lock()
        self._tokens: TokenSet | None = None
        self._from: str | None = None  # the subject token self._tokens was exchanged from
        self.exchanges = 0

    def token(self, margin: float) -> str:
        with self._lock:
            subject = self.subject.read()
            current = self._tokens
            if current is not None and subject == self._from and not current.expires_within(margin):
                return current.access_token
            return self._exchange(subject)

    def renew_after_401(self, rejected: str) -> str | None:
        """A new exchange when ``rejected`` is still the current token (None: nothing new)."""
        with self._lock:
            if self._tokens is not None and self._tokens.access_token != rejected:
                return self._tokens.access_token
            fresh = self._exchange(self.subject.read(force=True))
            return fresh if fresh != rejected else None

    def _exchange(self, subject: str) -> str:
        with sync_client(self.ca_file, self.timeout) as http:
            discovery = fetch_discovery(http, self.base_url)
            tokens = exchange(
                http,
                discovery,
                subject,
                self.settings,
                base_url=self.base_url,
                where=self.subject.where,
            )
        self._tokens, self._from = tokens, subject
        self.exchanges += 1
        return tokens.access_token


# -- the CLI: `authgate login --exchange-from FILE|-`, stored and renewed like other logins --
def login_subject(value: str, stdin_line: str | None) -> Subject:
    """The subject of ``--exchange-from``: a file (never a token on the command line,
    where ``ps`` and shell history would show it), or ``-`` for one line of stdin."""
    if value == "-":
        return Subject(
            token=check_token(stdin_line or "", "the subject token on stdin"), where="stdin"
        )
    return _file_subject(os.path.abspath(os.path.expanduser(value)), "--exchange-from")


def login_exchange(
    http: httpx.Client,
    discovery: Discovery,
    subject: Subject,
    settings: ExchangeSettings,
    base_url: str,
) -> TokenSet:
    """``authgate login --exchange-from``: exchange once; the file is kept for renewals."""
    tokens = exchange(
        http, discovery, subject.read(), settings, base_url=base_url, where=subject.where
    )
    return replace(tokens, subject_file=subject.path)


def renew_exchange(
    tokens: TokenSet, base_url: str, ca_file: str | None, context: str, again: str
) -> TokenSet:
    """Exchange a stored login's subject file again (it may hold a newer token by now)."""
    if not tokens.subject_file:
        raise SessionExpired(
            f"the login of context {context!r} was exchanged from stdin and cannot be renewed",
            hint="exchange from a file to renew automatically, or " + again,
        )
    subject = _file_subject(tokens.subject_file, "the login's --exchange-from file")
    secret = env_secret() or tokens.client_secret
    settings = ExchangeSettings(
        tokens.client_id, secret, tokens.audience, tuple((tokens.scope or "").split())
    )
    with sync_client(ca_file) as http:
        discovery = fetch_discovery(http, base_url)
        fresh = exchange(
            http, discovery, subject.read(), settings, base_url=base_url, where=subject.where
        )
    return replace(fresh, subject_file=tokens.subject_file, client_secret=tokens.client_secret)

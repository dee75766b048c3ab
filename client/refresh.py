"""Keeping a login's access token fresh, safely across threads and processes.

Policy:

* the CLI renews when less than :data:`CLI_REFRESH_MARGIN` (5 min) is left, so
  a token it prints for ``curl`` lasts a while;
* the SDK renews lazily, when less than :data:`SDK_REFRESH_MARGIN` (60 s) is
  left, and once more after a 401;
* refresh-token rotation is honoured: a new refresh token replaces the old one,
  and an answer without one keeps the old (RFC 6749 §6);
* a dead refresh token (``invalid_grant``) ends in :class:`SessionExpired`
  telling the user to log in again;
* quickstart logins are "refreshed" by minting a new unsigned token;
* client-credentials logins have no refresh token and are requested again
  (RFC 6749 §4.4.3) with the stored secret or ``AUTHGATE_CLIENT_SECRET``;
* token-exchange logins (RFC 8693) are exchanged again from their subject file.

Concurrency: one :class:`Session` per (config file, context) per process, so
every SDK client and thread shares one token. A renewal holds the session's
thread lock *and* the config file's lock, and re-reads the file under them:
if another process renewed meanwhile, its token is used instead of spending
the refresh token again — with rotation, a second use would kill the login.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from authgate.client.client_credentials import (
    CLIENT_SECRET_ENV,
    client_credentials_login,
    env_secret,
)
from authgate.client.discovery import fetch_discovery, unavailable_idp
from authgate.client.errors import NotLoggedIn, SessionExpired, command
from authgate.client.exchange_login import renew_exchange
from authgate.client.oauth import OAuthError, rejected, token_request
from authgate.client.quickstart import mint as mint_quickstart_token
from authgate.client.store import ClientConfig, Cluster, ConfigStore
from authgate.client.tokens import TokenSet
from authgate.client.transport import sync_client

CLI_REFRESH_MARGIN = 300.0
SDK_REFRESH_MARGIN = 60.0


@dataclass(frozen=True)
class Login:
    """One resolved context: its names, cluster and tokens."""

    context: str
    user: str
    cluster: Cluster
    tokens: TokenSet


def resolve(config: ClientConfig, context: str | None, store_path: Path) -> Login:
    """The login a context points at, or NotLoggedIn saying what to run."""
    name = context or config.current_context
    if not name:
        raise NotLoggedIn(
            f"not logged in (no current context in {store_path})",
            hint="run: " + command("login --base-url URL"),
        )
    entry = config.contexts.get(name)
    if entry is None:
        raise NotLoggedIn(
            f"no context named {name!r} in {store_path}", hint="see: " + command("config view")
        )
    cluster = config.clusters.get(entry.cluster)
    if cluster is None:
        raise NotLoggedIn(
            f"context {name!r} names cluster {entry.cluster!r}, which is missing",
            hint="run: " + command(f"login --context {name} --base-url URL"),
        )
    tokens = config.users.get(entry.user)
    if tokens is None:
        raise NotLoggedIn(
            f"not logged in to context {name!r}", hint="run: " + command(f"login --context {name}")
        )
    return Login(context=name, user=entry.user, cluster=cluster, tokens=tokens)


def renew(login: Login) -> TokenSet:
    """Obtain a new token set for a login (refresh grant, RFC 6749 §6, or re-mint)."""
    current = login.tokens
    again = "log in again: " + command(f"login --context {login.context}")
    if current.grant == "unsigned":
        if not current.email:
            raise SessionExpired("this quickstart login has no email to re-mint from", hint=again)
        return mint_quickstart_token(current.email)
    if current.grant == "client_credentials":
        return _request_again(login, again)
    if current.grant == "token_exchange":  # RFC 8693: exchange the subject file again
        return renew_exchange(
            current, login.cluster.base_url, login.cluster.ca_file, login.context, again
        )
    if not current.refresh_token:
        raise SessionExpired(
            f"the login of context {login.context!r} has no refresh token and cannot be renewed",
            hint=again,
        )
    with sync_client(login.cluster.ca_file) as http:
        discovery = fetch_discovery(http, login.cluster.base_url)
        if not discovery.token_endpoint or not discovery.client_id:
            raise unavailable_idp(login.cluster.base_url, discovery)
        try:
            body = token_request(
                http,
                discovery.token_endpoint,
                {
                    "grant_type": "refresh_token",
                    "refresh_token": current.refresh_token,
                    "client_id": discovery.client_id,
                    **discovery.token_request_params,
                },
            )
        except OAuthError as exc:
            if exc.error in ("invalid_grant", "invalid_token"):
                raise SessionExpired(
                    f"your session for context {login.context!r} has ended "
                    f"(the identity provider says: {exc.detail()})",
                    hint=again,
                ) from None
            raise rejected(exc, hint=again) from None
    return current.with_refresh(TokenSet.from_response(body, grant=current.grant))


class Session:
    """The process-wide token holder of one (config file, context)."""

    _registry: dict[tuple[str, str | None], Session] = {}
    _registry_lock = threading.Lock()

    def __init__(self, store: ConfigStore, context: str | None = None) -> None:
        self.store = store
        self.context = context
        self._lock = threading.RLock()
        self._cached: Login | None = None

    @classmethod
    def shared(cls, store: ConfigStore, context: str | None = None) -> Session:
        key = (str(store.path.resolve()), context)
        with cls._registry_lock:
            session = cls._registry.get(key)
            if session is None:
                session = cls._registry[key] = cls(store, context)
            return session

    def login(self) -> Login:
        """The login as stored now (re-read from disk)."""
        return resolve(self.store.load(), self.context, self.store.path)

    def token(self, margin: float) -> Login:
        """A login whose access token has at least ``margin`` seconds left, renewing if not."""
        with self._lock:
            cached = self._cached
            if cached is not None and not cached.tokens.expires_within(margin):
                return cached
            login = self.login()
            if not login.tokens.expires_within(margin):
                self._cached = login
                return login
            return self.refresh(margin=margin)

    def refresh(self, *, margin: float | None = None, stale: str | None = None) -> Login:
        """Renew under the file lock, unless another process already did.

        ``margin``: renew only if the stored token still expires within it.
        ``stale``: renew only if the stored access token is still this one
        (the token that just got a 401). Neither: always renew.
        """
        with self._lock, self.store.locked():
            config = self.store.load()
            login = resolve(config, self.context, self.store.path)
            fresh_enough = margin is not None and not login.tokens.expires_within(margin)
            replaced = stale is not None and login.tokens.access_token != stale
            if fresh_enough or replaced:
                self._cached = login
                return login
            tokens = renew(login)
            config.users[login.user] = tokens
            self.store.save(config)
            self._cached = Login(login.context, login.user, login.cluster, tokens)
            return self._cached

    def forget(self) -> None:
        with self._lock:
            self._cached = None


def _request_again(login: Login, again: str) -> TokenSet:
    """Client credentials have no refresh token (RFC 6749 §4.4.3): ask again with the
    secret (``AUTHGATE_CLIENT_SECRET`` first, so a rotated secret needs no new login)."""
    current = login.tokens
    secret = env_secret() or current.client_secret
    if not current.client_id or not secret:
        raise SessionExpired(
            f"the client-credentials login of context {login.context!r} has no stored secret",
            hint=f"set {CLIENT_SECRET_ENV}, or " + again,
        )
    with sync_client(login.cluster.ca_file) as http:
        discovery = fetch_discovery(http, login.cluster.base_url)
        if not discovery.token_endpoint:
            raise unavailable_idp(login.cluster.base_url, discovery)
        return client_credentials_login(
            http,
            discovery.token_endpoint,
            client_id=current.client_id,
            client_secret=secret,
            scope=current.scope or "",
            extra=discovery.token_request_params,
            stored_secret=current.client_secret,
        )

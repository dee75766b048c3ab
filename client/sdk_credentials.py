"""Where a client's base URL and bearer token come from, for ``Client`` and ``AsyncClient``.

The order is :mod:`authgate.client.sources`'s: ``token=``, then ``exchange_from=``
(token exchange, :mod:`authgate.client.exchange`), then ``AUTHGATE_TOKEN`` /
``AUTHGATE_TOKEN_FILE``, then the stored login. A token is only ever sent to
the platform it belongs to: an absolute URL on another origin is refused, and a
stored login of another platform is never used for ``base_url=``.
"""

from __future__ import annotations

import os

from authgate.client.discovery import normalize_base_url
from authgate.client.errors import NotLoggedIn, UsageError
from authgate.client.exchange import ExchangeArgs
from authgate.client.exchange_subject import exchange_source
from authgate.client.exchanger import Exchanger
from authgate.client.refresh import SDK_REFRESH_MARGIN, Session
from authgate.client.sources import (
    BASE_URL_ENV,
    Source,
    TokenFile,
    check_token,
    env_base_url,
    env_source,
)
from authgate.client.store import ConfigStore
from authgate.client.transport import env_ca_file, origin


class Credentials:
    """Where a client's base URL and bearer token come from (see
    :mod:`authgate.client.sources` for the order)."""

    def __init__(
        self,
        base_url: str | None,
        access_token: str | None,
        context: str | None,
        config_file: str | os.PathLike[str] | None,
        ca_file: str | None,
        exchange: ExchangeArgs | None = None,
    ) -> None:
        self.static_token: str | None = None
        self.token_file: TokenFile | None = None
        self.session: Session | None = None
        self.exchanger: Exchanger | None = None
        wanted: str | None = normalize_base_url(base_url) if base_url else None
        cluster_ca: str | None = None
        found: tuple[Source, str | TokenFile] | None = None
        if access_token is not None and exchange is not None:
            raise UsageError("pass token= or exchange_from=, not both")
        if access_token is not None:
            found = Source("argument"), check_token(access_token, "the token argument")
        subject = exchange_source(exchange[0]) if exchange is not None else None
        if subject is not None:
            # A stand-in until the exchanger exists (it needs the base URL and CA first).
            found = Source("exchange", subject.path or "token argument"), ""
        found = found or env_source()
        if found is not None:
            self.source, value = found
            if isinstance(value, TokenFile):
                self.token_file = value
            elif subject is None:
                self.static_token = value
            if wanted is None and (env_url := env_base_url()):
                wanted = normalize_base_url(env_url)
        if found is None or wanted is None:
            store = ConfigStore(config_file)
            if wanted is not None and context is None:
                context = _context_for(store, wanted)
            session = Session.shared(store, context)
            try:
                login = session.login()
            except NotLoggedIn as exc:
                if found is not None:  # a token but no platform to send it to
                    raise UsageError(
                        "which platform? a token source is set but no base URL",
                        hint=f"pass base_url= or set {BASE_URL_ENV}",
                    ) from exc
                raise
            if wanted is not None and login.cluster.base_url != wanted:
                # Never send one platform's token to another.
                raise UsageError(
                    f"context {login.context!r} belongs to {login.cluster.base_url}, not {wanted}",
                    hint="pass the matching context= or access_token=",
                )
            wanted, cluster_ca = login.cluster.base_url, login.cluster.ca_file
            if found is None:
                self.session = session
                self.source = Source("login", login.context)
        assert wanted is not None
        self.base_url: str = wanted
        self.ca_file = ca_file or env_ca_file() or cluster_ca
        if subject is not None and exchange is not None:
            self.exchanger = Exchanger(subject, exchange[1], base_url=wanted, ca_file=self.ca_file)

    def url(self, path: str) -> str:
        """``base_url + path``; an absolute URL only when it is on the platform itself."""
        if path.startswith("/"):
            return self.base_url + path
        if origin(path) != origin(self.base_url) or not path.startswith(self.base_url):
            raise UsageError(
                f"refusing to send the platform's token to {origin(path)}",
                hint="pass a path such as '/apis/...'",
            )
        return path

    @property
    def renews_in_thread(self) -> bool:
        """A stored login and an exchange renew over the network (file sources are a stat)."""
        return self.session is not None or self.exchanger is not None

    def token(self) -> str:
        if self.static_token is not None:
            return self.static_token
        if self.exchanger is not None:
            return self.exchanger.token(SDK_REFRESH_MARGIN)
        if self.token_file is not None:
            return self.token_file.read()
        assert self.session is not None
        token: str = self.session.token(SDK_REFRESH_MARGIN).tokens.access_token
        return token

    def renew_after_401(self, rejected_token: str) -> str | None:
        """A replacement for a token the platform rejected, or None when there is none."""
        if self.exchanger is not None:
            return self.exchanger.renew_after_401(rejected_token)
        if self.token_file is not None:
            fresh = self.token_file.read(force=True)
            return fresh if fresh != rejected_token else None
        if self.session is None:
            return None
        token: str = self.session.refresh(stale=rejected_token).tokens.access_token
        return token


def _context_for(store: ConfigStore, base_url: str) -> str:
    """The context logged in to ``base_url`` (the current one first)."""
    config = store.load()
    names = sorted(config.contexts, key=lambda name: name != config.current_context)
    for name in names:
        entry = config.contexts[name]
        cluster = config.clusters.get(entry.cluster)
        if cluster is not None and cluster.base_url == base_url and entry.user in config.users:
            found: str = name
            return found
    raise NotLoggedIn(
        f"not logged in to {base_url}",
        hint=f"run: authgate login --base-url {base_url}, or pass access_token=",
    )

"""``authgate login --exchange-from FILE|-``: an exchanged token as a stored login.

Kept apart from the grant request (:mod:`authgate.client.exchange`) because a
stored login has its own rules: the subject file's path is stored with the
tokens (never the subject token itself), and renewal (from
:mod:`authgate.client.refresh`) exchanges that file's current token again, with
``AUTHGATE_CLIENT_SECRET`` winning over the stored secret as for client
credentials.  A login exchanged from stdin has no file, so it cannot be renewed
and says so.
"""

from __future__ import annotations

from dataclasses import replace

import httpx

from authgate.client.client_credentials import env_secret
from authgate.client.discovery import Discovery, fetch_discovery
from authgate.client.errors import SessionExpired
from authgate.client.exchange import ExchangeSettings, exchange
from authgate.client.exchange_subject import Subject, file_subject
from authgate.client.tokens import TokenSet
from authgate.client.transport import sync_client


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
    subject = file_subject(tokens.subject_file, "the login's --exchange-from file")
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

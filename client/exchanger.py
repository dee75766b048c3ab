"""The SDK's exchanged token (``Client(exchange_from=...)``), kept fresh in memory.

Kept apart from the grant request (:mod:`authgate.client.exchange`) because
renewal is a matter of state and threads, not protocol: the token is exchanged
on first use, again when less than the margin is left (capped at half its
lifetime, as for every login) and whenever the subject file holds a new token,
so a rotated subject is picked up at once.  Nothing is stored on disk: the
subject is the credential, and an exchange gives no refresh token to keep.
"""

from __future__ import annotations

import threading

import httpx

from authgate.client.discovery import fetch_discovery
from authgate.client.exchange import ExchangeSettings, exchange
from authgate.client.exchange_subject import Subject
from authgate.client.tokens import TokenSet
from authgate.client.transport import DEFAULT_TIMEOUT, sync_client


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

"""The fetcher the proxy's key caches use to reach the identity provider.

The core stays framework-free and takes ``Fetcher = Callable[[str],
Awaitable[FetchResult]]``; the fetch policy itself (TLS verification with the
configured extra CA, ``keys.fetch_timeout_seconds`` for the whole exchange,
the 1 MiB body bound, no redirects) is the core's
:class:`~authgate.core.idpfetch.DocumentFetcher`, the same one the operator
uses.  It runs on plain asyncio, so a lean sidecar never imports aiohttp.
"""

from __future__ import annotations

from authgate.core.config import KeyConfig
from authgate.core.idpfetch import DocumentFetcher, FetchPolicy

__all__ = ["IdPFetcher"]


class IdPFetcher(DocumentFetcher):
    """The core's fetcher configured from the ``keys`` section."""

    @classmethod
    def create(cls, settings: KeyConfig) -> IdPFetcher:
        return cls(
            FetchPolicy(
                timeout_seconds=settings.fetch_timeout_seconds,
                ca_file=settings.ca_file,
                user_agent="authgate-proxy",
            )
        )

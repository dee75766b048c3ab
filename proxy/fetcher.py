"""The HTTP fetcher the core's key cache uses to reach the identity provider.

The core stays framework-free and takes ``Fetcher = Callable[[str],
Awaitable[FetchResult]]``; this module supplies one backed by an aiohttp
``ClientSession`` with per-request timeouts, a bounded body size and the
configured extra CA bundle (``keys.ca_file``).  Redirects are not followed:
an issuer's discovery document and JWKS are fetched exactly where configured.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass

import aiohttp
from authgate.core.config import KeyConfig
from authgate.core.oidc import FetchError, FetchResult

__all__ = ["MAX_DOCUMENT_BYTES", "IdPFetcher"]

#: Discovery documents and JWKS are small; refuse anything bigger.
MAX_DOCUMENT_BYTES = 1024 * 1024


def _ssl_context(ca_file: str | None) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if ca_file:
        context.load_verify_locations(cafile=ca_file)
    return context


@dataclass
class IdPFetcher:
    """Owns one ``ClientSession``; call it as the core's ``Fetcher``."""

    session: aiohttp.ClientSession

    @classmethod
    def create(cls, settings: KeyConfig) -> IdPFetcher:
        timeout = aiohttp.ClientTimeout(total=settings.fetch_timeout_seconds)
        connector = aiohttp.TCPConnector(ssl=_ssl_context(settings.ca_file), limit=8)
        session = aiohttp.ClientSession(
            connector=connector,
            timeout=timeout,
            headers={"Accept": "application/json", "User-Agent": "authgate-proxy"},
        )
        return cls(session)

    async def __call__(self, url: str) -> FetchResult:
        try:
            async with self.session.get(url, allow_redirects=False) as resp:
                body = await resp.content.read(MAX_DOCUMENT_BYTES + 1)
                if len(body) > MAX_DOCUMENT_BYTES:
                    raise FetchError(f"{url}: response larger than {MAX_DOCUMENT_BYTES} bytes")
                return FetchResult(status=resp.status, body=body)
        except (aiohttp.ClientError, TimeoutError, ssl.SSLError) as exc:
            raise FetchError(f"{url}: {type(exc).__name__}: {exc}") from None

    async def post(
        self, url: str, form: Mapping[str, str], headers: Mapping[str, str]
    ) -> FetchResult:
        """One form POST (the token endpoint of browser sign-in): the core's
        ``Poster``.  Same timeouts, CA bundle and size bound as GET."""
        try:
            async with self.session.post(
                url, data=dict(form), headers=dict(headers), allow_redirects=False
            ) as resp:
                body = await resp.content.read(MAX_DOCUMENT_BYTES + 1)
                if len(body) > MAX_DOCUMENT_BYTES:
                    raise FetchError(f"{url}: response larger than {MAX_DOCUMENT_BYTES} bytes")
                return FetchResult(status=resp.status, body=body)
        except (aiohttp.ClientError, TimeoutError, ssl.SSLError) as exc:
            raise FetchError(f"{url}: {type(exc).__name__}") from None

    async def close(self) -> None:
        await self.session.close()

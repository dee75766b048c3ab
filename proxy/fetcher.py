"""The HTTP fetcher the core's key cache uses to reach the identity provider.

The core stays framework-free and takes ``Fetcher = Callable[[str],
Awaitable[FetchResult]]``; this module supplies one backed by an aiohttp
``ClientSession`` with per-request timeouts, a bounded body size and the
configured extra CA bundle (``keys.ca_file``, or an issuer entry's own, such
as the cluster CA).  Redirects are not followed: an issuer's discovery
document and JWKS are fetched exactly where configured.

An issuer entry may also name a ``token_file``: its content is sent as
``Authorization: Bearer`` on every fetch (a cluster whose service-account
issuer discovery is not anonymous wants the sidecar's own service-account
token).  It is re-read on each fetch because the kubelet rotates it; fetches
are rare (a refresh every few minutes), so this costs nothing.  A ``file://``
JWKS URL is read from disk (a key set mounted from a Secret or ConfigMap).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

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
    token_file: str | None = None

    @classmethod
    def create(
        cls,
        settings: KeyConfig,
        *,
        ca_file: str | None = None,
        token_file: str | None = None,
    ) -> IdPFetcher:
        """A fetcher trusting ``ca_file`` (default ``keys.ca_file``) and sending
        the token in ``token_file``, if any."""
        timeout = aiohttp.ClientTimeout(total=settings.fetch_timeout_seconds)
        context = _ssl_context(ca_file or settings.ca_file)
        connector = aiohttp.TCPConnector(ssl=context, limit=8)
        session = aiohttp.ClientSession(
            connector=connector,
            timeout=timeout,
            # RFC 7517 §8.5: the apiserver serves its JWKS only as application/jwk-set+json.
            headers={
                "Accept": "application/json, application/jwk-set+json",
                "User-Agent": "authgate-proxy",
            },
        )
        return cls(session, token_file)

    def _headers(self) -> dict[str, str]:
        if not self.token_file:
            return {}
        try:
            token = Path(self.token_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise FetchError(
                f"cannot read the token file {self.token_file}: {exc.strerror or exc}"
            ) from None
        return {"Authorization": f"Bearer {token}"} if token else {}

    async def __call__(self, url: str) -> FetchResult:
        if url.startswith("file://"):
            return await asyncio.to_thread(_read_file, url)
        headers = self._headers()
        try:
            async with self.session.get(url, allow_redirects=False, headers=headers) as resp:
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


def _read_file(url: str) -> FetchResult:
    path = unquote(urlsplit(url).path)
    try:
        with open(path, "rb") as fh:
            body = fh.read(MAX_DOCUMENT_BYTES + 1)
    except OSError as exc:
        raise FetchError(f"{path}: {exc.strerror or exc}") from None
    if len(body) > MAX_DOCUMENT_BYTES:
        raise FetchError(f"{path}: larger than {MAX_DOCUMENT_BYTES} bytes")
    return FetchResult(status=200, body=body)

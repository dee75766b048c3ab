"""The fetcher the proxy's key caches use to reach the identity provider.

The core stays framework-free and takes ``Fetcher = Callable[[str],
Awaitable[FetchResult]]``; the fetch policy itself (TLS verification with the
configured extra CA — ``keys.ca_file``, or an issuer entry's own, such as the
cluster CA — ``keys.fetch_timeout_seconds`` for the whole exchange, the 1 MiB
body bound, no redirects) is the core's
:class:`~authgate.core.idpfetch.DocumentFetcher`, the same one the operator
uses.  It runs on plain asyncio, so a lean sidecar never imports aiohttp.

An issuer entry may also name a ``token_file``: its content is sent as
``Authorization: Bearer`` on every fetch (a cluster whose service-account
issuer discovery is not anonymous wants the sidecar's own service-account
token).  It is re-read on each fetch because the kubelet rotates it; fetches
are rare (a refresh every few minutes), so this costs nothing.  A ``file://``
JWKS URL is read from disk (a key set mounted from a Secret or ConfigMap).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import unquote, urlsplit

from authgate.core.config import KeyConfig
from authgate.core.idpfetch import DocumentFetcher, FetchPolicy
from authgate.core.oidc import MAX_DOCUMENT_BYTES, FetchError, FetchResult

__all__ = ["IdPFetcher"]


class IdPFetcher(DocumentFetcher):
    """The core's fetcher configured from the ``keys`` section (and an issuer entry)."""

    def __init__(self, policy: FetchPolicy, token_file: str | None = None) -> None:
        super().__init__(policy)
        self.token_file = token_file

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
        policy = FetchPolicy(
            timeout_seconds=settings.fetch_timeout_seconds,
            ca_file=ca_file or settings.ca_file,
            user_agent="authgate-proxy",
        )
        return cls(policy, token_file)

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
        return await self.fetch(url, self._headers())

    async def post(
        self, url: str, form: Mapping[str, str], headers: Mapping[str, str]
    ) -> FetchResult:
        """One form POST (the token endpoint of browser sign-in): the core's
        ``Poster``.  Same deadline, CA bundle and size bound as GET."""
        return await self.post_form(url, form, headers)


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

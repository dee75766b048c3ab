"""The sidecar's revocation-list poller for access-key issuers (engine-independent).

Every ``poll_seconds`` (± 10 % jitter, so a fleet does not poll in lockstep) it
sends ``GET <issuer>/revocations`` with ``If-None-Match: <etag>`` (RFC 9110
§13.1.2).  An unchanged list costs the operator one hash comparison and the
network a bodiless ``304``, so the cost per sidecar is flat whatever the number
of keys; a change costs one small JSON body.  Both refresh the list's age (see
:class:`authgate.core.revocation.RevocationList` for the fail-closed rule).

When the list's published signing keys (``kids``) change — the operator
prepublished a successor key — the poller refreshes that issuer's JWKS at
once, so a signing-key rotation reaches the sidecar within one poll rather
than one JWKS refresh interval.

The GET goes through the core's plain-asyncio fetcher (:mod:`authgate.core.idpfetch`,
the JWKS fetcher's policy: TLS verified, no redirects, bounded), so the lean
engine does not load aiohttp for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable, Mapping

from authgate.core.background import stop_task
from authgate.core.config import ProxyConfig
from authgate.core.idpfetch import DocumentFetcher, FetchPolicy
from authgate.core.keys import KeyCache
from authgate.core.oidc import FetchError
from authgate.core.revocation import RevocationList, RevocationListError

__all__ = ["RevocationPoller", "open_revocations"]

log = logging.getLogger("authgate.proxy.revocations")

MAX_LIST_BYTES = 8 * 1024 * 1024


class RevocationPoller:
    def __init__(
        self,
        url: str,
        revocations: RevocationList,
        *,
        poll_seconds: float,
        timeout_seconds: float,
        ca_file: str | None = None,
        on_keys_changed: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.url = url
        self.revocations = revocations
        self.poll_seconds = poll_seconds
        self._on_keys_changed = on_keys_changed
        self._fetcher = DocumentFetcher(
            FetchPolicy(
                timeout_seconds=timeout_seconds,
                max_bytes=MAX_LIST_BYTES,
                ca_file=ca_file,
                user_agent="authgate-proxy",
            )
        )
        self._task: asyncio.Task[None] | None = None
        self.requests = 0
        self.bytes_received = 0

    async def poll_once(self) -> None:
        """One conditional GET; failures are counted and logged, never raised."""
        headers = {"If-None-Match": self.revocations.etag} if self.revocations.etag else {}
        self.requests += 1
        try:
            rsp = await self._fetcher.fetch(self.url, headers)
            if rsp.status == 304:
                self.revocations.confirm()
                self.revocations.not_modified += 1
                return
            self.bytes_received += len(rsp.body)
            if rsp.status != 200:
                raise RevocationListError(f"answered HTTP {rsp.status}")
            changed = self.revocations.apply(rsp.body, rsp.etag)
        except (FetchError, RevocationListError) as exc:
            self.revocations.fail()
            log.warning(
                "revocation list fetch failed",
                extra={
                    "issuer": self.revocations.issuer,
                    "error": f"{type(exc).__name__}: {exc}",
                    "age_seconds": self.revocations.age,
                },
            )
            return
        if changed and self._on_keys_changed is not None:
            with contextlib.suppress(Exception):  # the key cache logs its own failures
                await self._on_keys_changed()

    async def start(self) -> None:
        """Fetch once now (so access keys work as soon as the proxy is ready), then poll."""
        await self.poll_once()
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name=f"revocations:{self.url}")

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.poll_seconds * (0.9 + 0.2 * random.random()))  # noqa: S311
            await self.poll_once()

    async def close(self) -> None:
        task, self._task = self._task, None
        await stop_task(task)
        await self._fetcher.close()


def open_revocations(
    config: ProxyConfig, caches: Mapping[str, KeyCache]
) -> tuple[dict[str, RevocationList], list[RevocationPoller]]:
    """A revocation list and its (not yet started) poller per ``kind: access_key``
    entry; a change of published kids refreshes that entry's key cache."""
    lists: dict[str, RevocationList] = {}
    pollers: list[RevocationPoller] = []
    if not config.auth_enabled:
        return lists, pollers
    for entry in config.issuers:
        if entry.kind != "access_key" or entry.issuer in lists:
            continue
        settings = entry.access_key
        revocations = RevocationList(entry.issuer, settings.max_stale_seconds)
        cache = caches.get(entry.issuer)
        lists[entry.issuer] = revocations
        pollers.append(
            RevocationPoller(
                entry.effective_revocation_url,
                revocations,
                poll_seconds=settings.poll_seconds,
                timeout_seconds=config.keys.fetch_timeout_seconds,
                ca_file=entry.effective_ca_file or config.keys.ca_file,
                on_keys_changed=cache.refresh if cache is not None else None,
            )
        )
    return lists, pollers

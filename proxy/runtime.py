"""The live decision state, swapped atomically on reload.

A :class:`Runtime` bundles everything one request needs to be decided and
routed — the parsed config, the core :class:`~authgate.core.gate.Gate` and the
key caches behind it — as one immutable value.  The :class:`RuntimeHolder`
keeps the current one; a request reads ``holder.current`` once and uses that
snapshot to the end, so a hot reload never mixes two configurations in one
request and never drops a connection.  ``holder.gate`` is the
``gate_provider`` the lean data path calls per request.

Key caches are expensive (they hold an IdP session and background refresh
tasks), so a reload that does not change the issuers, the JWKS override or the
``keys`` section reuses the running :class:`KeySet`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from authgate.core.config import ProxyConfig
from authgate.core.discovery import discovery_document
from authgate.core.errors import ConfigError
from authgate.core.gate import Gate
from authgate.core.keys import KeyCache
from authgate.core.oidc import FetchError, FetchResult, ProviderMetadata
from authgate.core.session import BrowserSessions, build_browser
from authgate.core.session.gate import BrowserGate

from .fetcher import IdPFetcher

__all__ = ["KeySet", "Runtime", "RuntimeHolder", "build_runtime", "restart_required_changes"]

log = logging.getLogger("authgate.proxy.runtime")


def _key_identity(config: ProxyConfig) -> tuple[Any, ...]:
    issuers = config.oidc.issuers if config.auth_enabled else ()
    return (issuers, config.oidc.jwks_uri, config.keys)


@dataclass
class KeySet:
    """One key cache per accepted issuer, sharing one IdP session."""

    identity: tuple[Any, ...]
    caches: dict[str, KeyCache]
    fetcher: IdPFetcher | None
    primary: str | None

    @classmethod
    async def open(cls, config: ProxyConfig, *, start: bool = True) -> KeySet:
        identity = _key_identity(config)
        issuers: tuple[str, ...] = identity[0]
        if not issuers:
            return cls(identity, {}, None, None)
        fetcher = IdPFetcher.create(config.keys)
        caches = {
            iss: KeyCache(
                iss,
                fetcher,
                config.keys,
                jwks_uri=config.oidc.jwks_uri if iss == config.oidc.issuer else None,
            )
            for iss in issuers
        }
        keyset = cls(identity, caches, fetcher, issuers[0])
        if start:
            await keyset.start()
        return keyset

    async def start(self) -> None:
        """Load every issuer's keys once (failures are logged; each cache
        keeps retrying in the background) and start the refresh tasks."""
        for issuer, cache in self.caches.items():
            try:
                await cache.start()
            except Exception as exc:  # the cache keeps retrying in the background
                log.warning(
                    "initial key load failed",
                    extra={"issuer": issuer, "error": f"{type(exc).__name__}: {exc}"},
                )

    @property
    def ready(self) -> bool:
        return all(cache.ready for cache in self.caches.values())

    @property
    def metadata(self) -> ProviderMetadata | None:
        if self.primary is None:
            return None
        return self.caches[self.primary].metadata

    def counters(self) -> tuple[int, int, int]:
        fetches = sum(c.fetches for c in self.caches.values())
        failures = sum(c.fetch_failures for c in self.caches.values())
        keys = sum(c.key_count for c in self.caches.values())
        return fetches, failures, keys

    async def close(self) -> None:
        for cache in self.caches.values():
            await cache.close()
        if self.fetcher is not None:
            await self.fetcher.close()


@dataclass(frozen=True)
class Runtime:
    """An immutable snapshot: config + gate + keys."""

    config: ProxyConfig
    gate: Gate
    keyset: KeySet
    browser: BrowserSessions | None = None  # browser sign-in, when ``browser.enabled``
    _discovery: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def ready(self) -> bool:
        return self.keyset.ready

    def discovery(self) -> dict[str, Any]:
        """The discovery document, cached once the provider metadata is known."""
        metadata = self.keyset.metadata
        entry = self._discovery.get("entry")
        if entry is not None and entry[0] is metadata:
            cached: dict[str, Any] = entry[1]
            return cached
        doc: dict[str, Any] = discovery_document(self.config, metadata)
        self._discovery["entry"] = (metadata, doc)
        return doc


async def build_runtime(
    config: ProxyConfig, previous: Runtime | None = None, *, start_keys: bool = True
) -> Runtime:
    """A new runtime for ``config``, reusing ``previous``'s keys when possible.
    With ``start_keys=False`` the caller starts ``runtime.keyset`` itself."""
    if previous is not None and previous.keyset.identity == _key_identity(config):
        keyset = previous.keyset
    else:
        keyset = await KeySet.open(config, start=start_keys)
    gate = Gate.from_config(config, keyset.caches)
    browser = None
    if config.browser.enabled:
        fetcher = keyset.fetcher

        async def post(
            url: str, form: Mapping[str, str], headers: Mapping[str, str]
        ) -> FetchResult:
            if fetcher is None:
                raise FetchError("no IdP session")
            return await fetcher.post(url, form, headers)

        try:
            browser = build_browser(
                config, keyset.caches, lambda: keyset.metadata, post, access_verifier=gate.verifier
            )
        except ValueError as exc:  # unreadable key directory or client secret
            raise ConfigError([f"browser: {exc}"]) from None
    if browser is not None:
        gate = BrowserGate(gate, browser)  # type: ignore[assignment,unused-ignore]
    return Runtime(config=config, gate=gate, keyset=keyset, browser=browser)


def restart_required_changes(old: ProxyConfig, new: ProxyConfig) -> list[str]:
    """Sections that a hot reload cannot apply (sockets, pools, processes)."""
    changed = []
    for name in ("server", "listen", "admin"):
        if getattr(old, name) != getattr(new, name):
            changed.append(name)
    ou, nu = old.upstream, new.upstream
    if (ou.connect_timeout_seconds, ou.read_timeout_seconds, ou.max_connections) != (
        nu.connect_timeout_seconds,
        nu.read_timeout_seconds,
        nu.max_connections,
    ):
        changed.append("upstream (timeouts / pool)")
    return changed


class RuntimeHolder:
    """The current :class:`Runtime`; swapping is a single attribute store."""

    def __init__(self, runtime: Runtime) -> None:
        self.current = runtime
        self._retired: dict[asyncio.Task[None], KeySet] = {}

    def gate(self) -> Gate:
        """The lean path's ``gate_provider``."""
        return self.current.gate

    @property
    def ready(self) -> bool:
        return self.current.ready

    def key_stats(self) -> tuple[int, int, int, int]:
        runtime = self.current
        fetches, failures, keys = runtime.keyset.counters()
        hits = int(getattr(runtime.gate.verifier, "cache_hits", 0))
        return fetches, failures, keys, hits

    def swap(self, runtime: Runtime, *, grace_seconds: float) -> None:
        """Install ``runtime``; close the old key set after ``grace_seconds``
        (requests that started before the swap may still be using it)."""
        old = self.current
        self.current = runtime
        if old.keyset is not runtime.keyset:
            task = asyncio.get_running_loop().create_task(
                self._close_later(old.keyset, grace_seconds)
            )
            self._retired[task] = old.keyset
            task.add_done_callback(lambda t: self._retired.pop(t, None))

    @staticmethod
    async def _close_later(keyset: KeySet, delay: float) -> None:
        await asyncio.sleep(delay)
        await keyset.close()

    async def close(self) -> None:
        for task, keyset in list(self._retired.items()):
            task.cancel()
            await keyset.close()
        await self.current.keyset.close()

"""The live decision state, swapped atomically on reload.

A :class:`Runtime` bundles everything one request needs to be decided and
routed — the parsed config, the core :class:`~authgate.core.gate.Gate` (with
the registered credential sources), the key caches behind it and the
``/apis/auth/`` :class:`~authgate.proxy.routes.Router` — as one immutable
value.  The :class:`RuntimeHolder`
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
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from authgate.core.config import ProxyConfig
from authgate.core.credentials import CredentialSourceFactory
from authgate.core.discovery import discovery_document
from authgate.core.gate import Gate
from authgate.core.gatekeeper import Gatekeeper
from authgate.core.keys import KeyCache
from authgate.core.oidc import ProviderMetadata
from authgate.core.revocation import RevocationList
from authgate.core.session import BrowserSessions

from .browser import browser_of
from .extensions import CREDENTIAL_SOURCES, ENDPOINTS
from .fetcher import IdPFetcher
from .revocations import RevocationPoller, open_revocations
from .routes import EndpointFactory, Router

__all__ = ["KeySet", "Runtime", "RuntimeHolder", "build_runtime", "restart_required_changes"]

log = logging.getLogger("authgate.proxy.runtime")


def _key_sources(config: ProxyConfig) -> tuple[tuple[Any, ...], ...]:
    """Per accepted issuer: (iss, jwks_uri, metadata_url, ca_file, token_file)."""
    if not config.auth_enabled:
        return ()
    sources: list[tuple[str, str | None, str | None, str | None, str | None]] = [
        (iss, config.oidc.jwks_uri if iss == config.oidc.issuer else None, None, None, None)
        for iss in config.oidc.issuers
    ]
    known = set(config.oidc.issuers)
    for entry in config.issuers:
        if entry.issuer in known:
            continue
        known.add(entry.issuer)
        metadata_url = (
            entry.effective_discovery_url if entry.kind == "kubernetes" else (entry.discovery_url)
        )
        sources.append(
            (
                entry.issuer,
                entry.effective_jwks_uri,
                metadata_url,
                entry.effective_ca_file,
                entry.effective_token_file,
            )
        )
    return tuple(sources)


def _key_identity(config: ProxyConfig) -> tuple[Any, ...]:
    access_keys = tuple((e.issuer, e.access_key) for e in config.issuers if e.kind == "access_key")
    return (_key_sources(config), config.keys, access_keys)


@dataclass
class KeySet:
    """One key cache per accepted issuer; issuers reached with the same CA and
    credentials share one HTTP session."""

    identity: tuple[Any, ...]
    caches: dict[str, KeyCache]
    fetchers: list[IdPFetcher]
    primary: str | None
    #: Per access-key issuer: its revocation list, kept current by its poller.
    revocations: dict[str, RevocationList] = field(default_factory=dict)
    pollers: list[RevocationPoller] = field(default_factory=list)

    @classmethod
    async def open(cls, config: ProxyConfig, *, start: bool = True) -> KeySet:
        identity = _key_identity(config)
        sources: tuple[tuple[Any, ...], ...] = identity[0]
        if not sources:
            return cls(identity, {}, [], None)
        fetchers: dict[tuple[str | None, str | None], IdPFetcher] = {}
        caches: dict[str, KeyCache] = {}
        for iss, jwks_uri, metadata_url, ca_file, token_file in sources:
            fetcher = fetchers.get((ca_file, token_file))
            if fetcher is None:
                fetcher = fetchers[(ca_file, token_file)] = IdPFetcher.create(
                    config.keys, ca_file=ca_file, token_file=token_file
                )
            caches[iss] = KeyCache(
                iss, fetcher, config.keys, jwks_uri=jwks_uri, metadata_url=metadata_url
            )
        primary = config.oidc.issuer or (config.oidc.issuers or (None,))[0]
        revocations, pollers = open_revocations(config, caches)
        keyset = cls(identity, caches, list(fetchers.values()), primary, revocations, pollers)
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
        for poller in self.pollers:
            await poller.start()

    @property
    def ready(self) -> bool:
        return all(cache.ready for cache in self.caches.values())

    @property
    def metadata(self) -> ProviderMetadata | None:
        if self.primary is None or self.primary not in self.caches:
            return None
        return self.caches[self.primary].metadata

    def counters(self) -> tuple[int, int, int]:
        fetches = sum(c.fetches for c in self.caches.values())
        failures = sum(c.fetch_failures for c in self.caches.values())
        keys = sum(c.key_count for c in self.caches.values())
        return fetches, failures, keys

    async def close(self) -> None:
        for poller in self.pollers:
            await poller.close()
        for cache in self.caches.values():
            await cache.close()
        for fetcher in self.fetchers:
            await fetcher.close()


@dataclass(frozen=True)
class Runtime:
    """An immutable snapshot: config + gate + keys + router (+ the gateway-mode
    decisions over that gate, whose decision cache dies with the snapshot)."""

    config: ProxyConfig
    gate: Gate
    keyset: KeySet
    gatekeeper: Gatekeeper
    router: Router = field(default_factory=lambda: Router(()))
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
    config: ProxyConfig,
    previous: Runtime | None = None,
    *,
    start_keys: bool = True,
    endpoints: Sequence[EndpointFactory] = ENDPOINTS,
    sources: Sequence[CredentialSourceFactory] = CREDENTIAL_SOURCES,
) -> Runtime:
    """A new runtime for ``config``, reusing ``previous``'s keys when possible.
    With ``start_keys=False`` the caller starts ``runtime.keyset`` itself.
    ``endpoints`` and ``sources`` default to the registered extensions
    (:mod:`authgate.proxy.extensions`)."""
    if previous is not None and previous.keyset.identity == _key_identity(config):
        keyset = previous.keyset
    else:
        keyset = await KeySet.open(config, start=start_keys)
    gate = Gate.from_config(config, keyset.caches, sources, revocations=keyset.revocations)
    gatekeeper = Gatekeeper(gate, config.gateway)
    router = Router.build(config, endpoints)
    return Runtime(
        config=config,
        gate=gate,
        keyset=keyset,
        gatekeeper=gatekeeper,
        router=router,
        browser=browser_of(gate),
    )


def restart_required_changes(old: ProxyConfig, new: ProxyConfig) -> list[str]:
    """Sections that a hot reload cannot apply (sockets, pools, processes)."""
    changed = []
    for name in ("server", "listen", "admin"):
        if getattr(old, name) != getattr(new, name):
            changed.append(name)
    if old.upstream != new.upstream:
        # Both engines parse it once into an UpstreamTarget and pool connections to it.
        changed.append("upstream")
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

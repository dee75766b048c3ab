"""The discovery endpoint (``GET /apis/auth/discovery``) and the operator's health.

Every replica serves it, not only the one kopf peering made active: followers
are paused by kopf and see no events, so the index is fed by its own re-list of
OIDCProviders every couple of seconds (``discovery_refresh_seconds``), and the
active replica pushes each reconcile into it at once.  A change to a provider
is therefore visible within seconds on every replica.

Which provider answers (documented in docs/operator.md):

* ``?provider=<namespace>/<name>`` names one explicitly (404 if unknown);
* otherwise the provider with ``spec.default: true``;
* otherwise the only provider, if there is exactly one;
* no provider at all: ``{"auth_enabled": false}``;
* several and no single default: 409 with an explanation (guessing would hand
  clients the wrong IdP).

The document's shape is the core's :func:`authgate.core.discovery.discovery_document`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from authgate.core.config import ProxyConfig, parse_config
from authgate.core.contracts import DISCOVERY_PATH
from authgate.core.errors import ConfigError
from authgate.core.oidc import ProviderMetadata

from .metrics import OperatorMetrics
from .render import render_document
from .settings import OperatorSettings
from .status import READY, condition

__all__ = ["DiscoveryServer", "ProviderEntry", "ProviderIndex", "entry_from_provider"]

log = logging.getLogger("authgate.operator.discovery")

#: Lists OIDCProvider objects of some namespaces (all when empty): ``Kube.list_providers``.
Lister = Callable[[tuple[str, ...]], Awaitable[list[dict[str, Any]]]]


def _discovery_document(config: ProxyConfig, metadata: ProviderMetadata | None) -> dict[str, Any]:
    from authgate.core.discovery import discovery_document

    document: dict[str, Any] = discovery_document(config, metadata)
    return document


@dataclass(frozen=True, slots=True)
class ProviderEntry:
    """One provider as discovery serves it."""

    namespace: str
    name: str
    default: bool
    ready: bool
    reason: str
    document: Mapping[str, Any] | None  # None: the spec does not render (see status)

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


def entry_from_provider(obj: Mapping[str, Any], settings: OperatorSettings) -> ProviderEntry:
    """Build an index entry from an OIDCProvider object (spec + status)."""
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    ready = condition(status.get("conditions") or [], READY) or {}
    document: dict[str, Any] | None
    try:
        config = parse_config(render_document(spec, settings))
    except ConfigError:
        document = None
    else:
        ep = status.get("endpoints") or {}
        metadata = None
        if ep.get("issuer") and ep.get("jwksUri"):
            metadata = ProviderMetadata(
                issuer=ep["issuer"],
                jwks_uri=ep["jwksUri"],
                token_endpoint=ep.get("tokenEndpoint"),
                device_authorization_endpoint=ep.get("deviceAuthorizationEndpoint"),
                authorization_endpoint=ep.get("authorizationEndpoint"),
            )
        document = _discovery_document(config, metadata)
    return ProviderEntry(
        namespace=str(meta.get("namespace", "")),
        name=str(meta.get("name", "")),
        default=bool(spec.get("default", False)),
        ready=ready.get("status") == "True",
        reason=str(ready.get("reason") or "Pending"),
        document=document,
    )


class ProviderIndex:
    """The current providers, by ``namespace/name``; replaced wholesale by each re-list."""

    def __init__(self) -> None:
        self._entries: dict[str, ProviderEntry] = {}
        self.loaded = False
        self.last_refresh = 0.0

    def replace_all(self, entries: Iterable[ProviderEntry]) -> None:
        self._entries = {e.key: e for e in entries}
        self.loaded = True
        self.last_refresh = time.monotonic()

    def upsert(self, entry: ProviderEntry) -> None:
        self._entries[entry.key] = entry

    def remove(self, namespace: str, name: str) -> None:
        self._entries.pop(f"{namespace}/{name}", None)

    def get(self, key: str) -> ProviderEntry | None:
        return self._entries.get(key)

    def entries(self) -> list[ProviderEntry]:
        return sorted(self._entries.values(), key=lambda e: e.key)

    def default(self, namespace: str | None = None) -> tuple[ProviderEntry | None, str]:
        """The default provider (of ``namespace`` when given) and, when there is none,
        ``"none"`` or ``"ambiguous"``."""
        pool = [e for e in self.entries() if namespace is None or e.namespace == namespace]
        marked = [e for e in pool if e.default]
        if len(marked) == 1:
            return marked[0], "ok"
        if not marked and len(pool) == 1:
            return pool[0], "ok"
        if not pool:
            return None, "none"
        return None, "ambiguous"


class DiscoveryServer:
    """aiohttp app: discovery, ``/healthz``, ``/readyz``, ``/metrics``; plus the re-list loop."""

    def __init__(
        self,
        settings: OperatorSettings,
        index: ProviderIndex,
        metrics: OperatorMetrics,
        lister: Lister,
    ) -> None:
        self.settings = settings
        self.index = index
        self.metrics = metrics
        self._list = lister
        self._runner: web.AppRunner | None = None
        self._task: asyncio.Task[None] | None = None

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get(DISCOVERY_PATH, self.discovery)
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/readyz", self.readyz)
        app.router.add_get("/metrics", self.metrics_handler)
        return app

    async def discovery(self, request: web.Request) -> web.Response:
        headers = {"Cache-Control": "no-cache"}
        wanted = request.query.get("provider")
        if wanted:
            entry = self.index.get(wanted)
            if entry is None:
                self.metrics.discovery_requests.labels("not_found").inc()
                return web.json_response(
                    {"error": "unknown_provider",
                     "description": f"no OIDCProvider {wanted!r} (use <namespace>/<name>)"},
                    status=404, headers=headers,
                )  # fmt: skip
        else:
            entry, why = self.index.default()
            if entry is None and why == "none":
                self.metrics.discovery_requests.labels("disabled").inc()
                return web.json_response({"auth_enabled": False}, headers=headers)
            if entry is None:
                self.metrics.discovery_requests.labels("ambiguous").inc()
                names = ", ".join(e.key for e in self.index.entries())
                return web.json_response(
                    {"error": "ambiguous_default",
                     "description": f"several OIDCProviders ({names}) and not exactly one with "
                                    "spec.default: true; name one with ?provider=<ns>/<name>"},
                    status=409, headers=headers,
                )  # fmt: skip
        if entry.document is None:
            self.metrics.discovery_requests.labels("invalid").inc()
            return web.json_response(
                {"error": "provider_invalid",
                 "description": f"OIDCProvider {entry.key} does not render; see its status"},
                status=503, headers=headers,
            )  # fmt: skip
        self.metrics.discovery_requests.labels("ok").inc()
        return web.json_response(dict(entry.document), headers=headers)

    async def healthz(self, _: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(self, _: web.Request) -> web.Response:
        stale = time.monotonic() - self.index.last_refresh > max(
            30.0, 10 * self.settings.discovery_refresh_seconds
        )
        if not self.index.loaded or stale:
            return web.json_response({"status": "not ready", "reason": "index not loaded"},
                                     status=503)  # fmt: skip
        return web.json_response({"status": "ready", "providers": len(self.index.entries())})

    async def metrics_handler(self, _: web.Request) -> web.Response:
        for ready in ("true", "false"):
            self.metrics.providers.labels(ready).set(
                sum(1 for e in self.index.entries() if e.ready == (ready == "true"))
            )
        body = generate_latest(self.metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def refresh_once(self) -> None:
        namespaces = () if self.settings.all_namespaces else self.settings.namespaces
        objects = await self._list(namespaces)
        self.index.replace_all(entry_from_provider(o, self.settings) for o in objects)

    async def _refresh_loop(self) -> None:
        while True:
            try:
                await self.refresh_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # keep serving the last index; report and retry
                self.metrics.index_refresh_failures.inc()
                log.warning("re-listing OIDCProviders failed: %s", exc)
            await asyncio.sleep(self.settings.discovery_refresh_seconds)

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(
            self._runner, self.settings.discovery_address, self.settings.discovery_port
        )
        await site.start()
        self._task = asyncio.create_task(self._refresh_loop(), name="authgate-discovery-index")
        log.info("discovery listening on %s:%s", self.settings.discovery_address,
                 self.settings.discovery_port)  # fmt: skip

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()

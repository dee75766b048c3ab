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

**What the sidecars accept.**  While a provider's newest spec fails its IdP
checks (or does not render), its ConfigMap keeps the last good config and the
sidecars keep enforcing it (:mod:`authgate.operator.reconcile`).  Discovery
then describes that kept config, read back from the ConfigMap
(:func:`served_entry`), not the failing spec: a CLI sent to log in at the new
issuer would get tokens no sidecar accepts.  Only providers that are not Ready
are looked up this way, so a healthy fleet costs no extra API calls.

The document's shape is the core's :func:`authgate.core.discovery.discovery_document`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import yaml
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from authgate.core.config import ProxyConfig, parse_config
from authgate.core.contracts import CONFIG_FILE_NAME, DISCOVERY_PATH
from authgate.core.errors import ConfigError
from authgate.core.oidc import ProviderMetadata

from .metrics import OperatorMetrics
from .render import configmap_name, render_document, stored_endpoints, verified_generation
from .settings import OperatorSettings
from .status import READY, condition

__all__ = [
    "DiscoveryServer",
    "ProviderEntry",
    "ProviderIndex",
    "entry_from_provider",
    "served_entry",
]

log = logging.getLogger("authgate.operator.discovery")

#: Lists OIDCProvider objects of some namespaces (all when empty): ``Kube.list_providers``.
Lister = Callable[[tuple[str, ...]], Awaitable[list[dict[str, Any]]]]
#: Reads one ConfigMap (``None`` if absent): ``Kube.read_configmap``.
ConfigMapReader = Callable[[str, str], Awaitable[dict[str, Any] | None]]


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
        config = parse_config(
            render_document(
                spec, settings, provider=(str(meta.get("namespace", "")), str(meta.get("name", "")))
            )
        )
    except ConfigError:
        document = None
    else:
        document = _discovery_document(config, _metadata(status.get("endpoints") or {}))
    return ProviderEntry(
        namespace=str(meta.get("namespace", "")),
        name=str(meta.get("name", "")),
        default=bool(spec.get("default", False)),
        ready=ready.get("status") == "True",
        reason=str(ready.get("reason") or "Pending"),
        document=document,
    )


def _metadata(endpoints: Mapping[str, str]) -> ProviderMetadata | None:
    if not (endpoints.get("issuer") and endpoints.get("jwksUri")):
        return None
    return ProviderMetadata(
        issuer=endpoints["issuer"],
        jwks_uri=endpoints["jwksUri"],
        token_endpoint=endpoints.get("tokenEndpoint"),
        device_authorization_endpoint=endpoints.get("deviceAuthorizationEndpoint"),
        authorization_endpoint=endpoints.get("authorizationEndpoint"),
    )


def served_entry(
    obj: Mapping[str, Any], configmap: Mapping[str, Any] | None, settings: OperatorSettings
) -> ProviderEntry | None:
    """The entry for the config the sidecars mount, when ``configmap`` keeps the verified
    config of an *older* generation than ``obj``'s spec; ``None`` otherwise (the spec is
    what is served, or nothing was ever verified)."""
    meta = obj.get("metadata") or {}
    kept = verified_generation(configmap, str(meta.get("uid") or ""))
    if configmap is None or kept is None or kept == int(meta.get("generation") or 0):
        return None
    text = (configmap.get("data") or {}).get(CONFIG_FILE_NAME)
    try:
        config = parse_config(yaml.safe_load(text or ""))
    except (ConfigError, yaml.YAMLError) as exc:
        log.warning(
            "kept ConfigMap of %s/%s does not parse: %s",
            meta.get("namespace"),
            meta.get("name"),
            exc,
        )
        return None
    document = _discovery_document(config, _metadata(stored_endpoints(configmap)))
    return dataclasses.replace(entry_from_provider(obj, settings), document=document)


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
        read_configmap: ConfigMapReader | None = None,
        extensions: tuple[Callable[[web.Application], None], ...] = (),
    ) -> None:
        self.settings = settings
        self._extensions = extensions  # more routes on this server (the access-key API)
        self.index = index
        self.metrics = metrics
        self._list = lister
        self._read_configmap = read_configmap
        self._runner: web.AppRunner | None = None
        self._task: asyncio.Task[None] | None = None

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get(DISCOVERY_PATH, self.discovery)
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/readyz", self.readyz)
        app.router.add_get("/metrics", self.metrics_handler)
        for extend in self._extensions:
            extend(app)
        return app

    async def discovery(self, request: web.Request) -> web.Response:
        wanted = request.query.get("provider")
        if wanted:
            entry = self.index.get(wanted)
            if entry is None:
                why = f"no OIDCProvider {wanted!r} (use <namespace>/<name>)"
                return self._answer("not_found", {"error": "unknown_provider"}, why, 404)
        else:
            entry, reason = self.index.default()
            if entry is None and reason == "none":
                return self._answer("disabled", {"auth_enabled": False})
            if entry is None:
                names = ", ".join(e.key for e in self.index.entries())
                why = (
                    f"several OIDCProviders ({names}) and not exactly one with "
                    "spec.default: true; name one with ?provider=<ns>/<name>"
                )
                return self._answer("ambiguous", {"error": "ambiguous_default"}, why, 409)
        if entry.document is None:
            why = f"OIDCProvider {entry.key} does not render; see its status"
            return self._answer("invalid", {"error": "provider_invalid"}, why, 503)
        return self._answer("ok", dict(entry.document))

    def _answer(
        self, outcome: str, body: dict[str, Any], description: str = "", status: int = 200
    ) -> web.Response:
        """Count the answer under ``outcome`` and send it uncached: a client must see a
        provider change (or a new default) on its next request."""
        self.metrics.discovery_requests.labels(outcome).inc()
        if description:
            body = {**body, "description": description}
        return web.json_response(body, status=status, headers={"Cache-Control": "no-cache"})

    async def healthz(self, _: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(self, _: web.Request) -> web.Response:
        stale = time.monotonic() - self.index.last_refresh > max(
            30.0, 10 * self.settings.discovery_refresh_seconds
        )
        if not self.index.loaded or stale:
            return web.json_response(
                {"status": "not ready", "reason": "index not loaded"}, status=503
            )
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
        entries = []
        for obj in objects:
            entry = entry_from_provider(obj, self.settings)
            if not entry.ready and self._read_configmap is not None:
                cm = await self._read_configmap(entry.namespace, configmap_name(entry.name))
                entry = served_entry(obj, cm, self.settings) or entry
            entries.append(entry)
        self.index.replace_all(entries)

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
        log.info(
            "discovery listening on %s:%s",
            self.settings.discovery_address,
            self.settings.discovery_port,
        )

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()

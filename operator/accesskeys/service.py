"""The access-key service's state and background work, shared by the HTTP
handlers (:mod:`authgate.operator.accesskeys.api`).

Every replica runs it (the API, the JWKS and the revocation list are served by
all of them; Kubernetes is the only state).  One loop, every
``refresh_seconds``: re-list OIDCProviders and AccessKeys, read each enabled
provider's signing-key Secret (creating or rotating it when due; writes are
conditional on the ``resourceVersion`` read, so replicas never race).  A second,
slower loop refreshes ``status.phase`` when time changed it and deletes keys
that stopped working more than ``retentionSeconds`` ago and are no longer
needed in a revocation list.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from authgate.core.config import ProxyConfig, parse_config
from authgate.core.errors import ConfigError
from authgate.core.keys import KeyCache
from authgate.core.verify import TokenVerifier

from ..idp import IdPCheckFailed, IdPFetcher
from .model import AccessKeyRecord
from .policy import AccessKeyPolicy, policy_of
from .render import issuer_url, public_url
from .settings import AccessKeySettings
from .signing import SigningKeySet
from .store import AccessKeyIndex, AccessKeyStore, Conflict, revocation_document

if TYPE_CHECKING:  # types only: operator.render/settings import this package (no cycle)
    from ..kube import Kube
    from ..settings import OperatorSettings

#: ``operator.render.render_document``, passed in by the runner: this package sits below
#: the operator's render/settings modules, which use its policy, settings and entry.
RenderDocument = Callable[..., dict[str, Any]]

__all__ = ["AccessKeyService", "CallerVerifier", "Provider"]

log = logging.getLogger("authgate.operator.accesskeys")


@dataclass(frozen=True, slots=True)
class Provider:
    namespace: str
    name: str
    uid: str
    spec: Mapping[str, Any]
    policy: AccessKeyPolicy
    default: bool

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass
class CallerVerifier:
    """The core verifier for a provider's IdP tokens (the API's callers)."""

    fingerprint: str
    config: ProxyConfig
    verifier: TokenVerifier
    caches: dict[str, KeyCache]
    fetcher: IdPFetcher

    async def close(self) -> None:
        for cache in self.caches.values():
            await cache.close()
        await self.fetcher.close()


class AccessKeyService:
    def __init__(self, settings: OperatorSettings, kube: Kube, render: RenderDocument) -> None:
        self.settings = settings
        self._render = render
        self.ak: AccessKeySettings = settings.access_keys
        self.kube = kube
        self.store = AccessKeyStore(kube)
        self.index = AccessKeyIndex()
        self.providers: dict[str, Provider] = {}
        self.signing: dict[str, SigningKeySet] = {}
        self._verifiers: dict[str, CallerVerifier] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self.refresh_failures = 0
        self.revocation_requests = 0
        self.revocation_not_modified = 0

    # -- names ----------------------------------------------------------------------------

    @property
    def public_url(self) -> str:
        return public_url(self.ak, self.settings.discovery_address, self.settings.discovery_port)

    def issuer(self, namespace: str, provider: str) -> str:
        return issuer_url(self.public_url, namespace, provider)

    def enabled(self, key: str) -> Provider | None:
        provider = self.providers.get(key)
        return provider if provider is not None and provider.policy.enabled else None

    def default_provider(self) -> Provider | None:
        """Like discovery: the one marked default, else the only provider."""
        pool = sorted(self.providers.values(), key=lambda p: p.key)
        marked = [p for p in pool if p.default]
        if len(marked) == 1:
            return marked[0]
        return pool[0] if len(pool) == 1 and not marked else None

    def revocations(self, provider: Provider, now: float) -> tuple[bytes, str]:
        keys = self.signing.get(provider.key)
        kids = keys.kids() if keys else ()
        return revocation_document(
            self.issuer(provider.namespace, provider.name),
            self.index.of_provider(provider.namespace, provider.name),
            kids,
            now,
        )

    # -- the caller's token ---------------------------------------------------------------

    async def _ca_pem(self, provider: Provider) -> str | None:
        spec = provider.spec
        if spec.get("caBundle"):
            return str(spec["caBundle"])
        ref = spec.get("caConfigMap")
        if not isinstance(ref, Mapping):
            return None
        cm = await self.kube.read_configmap(provider.namespace, str(ref.get("name")))
        pem = ((cm or {}).get("data") or {}).get(ref.get("key") or "ca.crt")
        return str(pem) if pem else None

    async def caller_verifier(self, provider: Provider) -> CallerVerifier | None:
        """A verifier of the provider's IdP tokens, rebuilt when its spec changes;
        None when the spec does not render (the provider's status says why)."""
        fingerprint = hashlib.sha256(
            json.dumps(provider.spec, sort_keys=True, default=str).encode()
        ).hexdigest()
        current = self._verifiers.get(provider.key)
        if current is not None and current.fingerprint == fingerprint:
            return current
        ca_pem = await self._ca_pem(provider)
        try:
            config = parse_config(self._render(provider.spec, self.settings, has_ca=bool(ca_pem)))
            fetcher = IdPFetcher(self.settings.fetch_timeout_seconds, ca_pem)
        except (ConfigError, IdPCheckFailed):
            return None
        caches = {
            iss: KeyCache(
                iss,
                fetcher,
                config.keys,
                jwks_uri=config.oidc.jwks_uri if iss == config.oidc.issuer else None,
            )
            for iss in config.oidc.issuers
        }
        for cache in caches.values():
            await cache.start()
        built = CallerVerifier(fingerprint, config, TokenVerifier(config, caches), caches, fetcher)
        self._verifiers[provider.key] = built
        if current is not None:
            await current.close()
        return built

    # -- refresh ----------------------------------------------------------------------------

    async def refresh_once(self) -> None:
        namespaces = () if self.settings.all_namespaces else self.settings.namespaces
        started = time.monotonic()
        objects = await self.kube.list_providers(namespaces)
        providers = {}
        for obj in objects:
            meta, spec = obj.get("metadata") or {}, obj.get("spec") or {}
            p = Provider(
                str(meta.get("namespace")),
                str(meta.get("name")),
                str(meta.get("uid")),
                spec,
                policy_of(spec),
                bool(spec.get("default", False)),
            )
            providers[p.key] = p
        objects = await self.store.list_all(namespaces)
        records = [r for r in map(AccessKeyRecord.from_object, objects) if r is not None]
        self.index.replace_all(records, started)
        self.providers = providers
        for key in list(self._verifiers):
            if key not in providers:
                await self._verifiers.pop(key).close()
        for provider in providers.values():
            if provider.policy.enabled:
                await self._signing_keys(provider)

    async def _signing_keys(self, provider: Provider) -> None:
        now = time.time()
        keys = await self.store.read_signing_keys(provider.namespace, provider.name)
        if keys is None:
            planned: SigningKeySet | None = SigningKeySet.initial(now)
        else:
            in_use = {
                r.signing_kid
                for r in self.index.of_provider(provider.namespace, provider.name)
                if r.phase(now) in ("Active", "Suspended", "Rotating")
            }
            planned = keys.planned(
                now,
                rotation_seconds=self.ak.rotation_seconds,
                prepublish_seconds=self.ak.prepublish_seconds,
                in_use=in_use,
            )
        if planned is None:
            assert keys is not None
            self.signing[provider.key] = keys
            return
        try:
            await self.store.write_signing_keys(
                provider.namespace, provider.name, planned, {"uid": provider.uid}
            )
        except Conflict:
            return  # another replica wrote it; read it next round
        log.info(
            "access-key signing keys written",
            extra={"provider": provider.key, "kids": list(planned.kids())},
        )
        fresh = await self.store.read_signing_keys(provider.namespace, provider.name)
        if fresh is not None:
            self.signing[provider.key] = fresh

    async def signing_keys(self, provider: Provider) -> SigningKeySet:
        """The provider's keys, created now when the loop has not done it yet."""
        keys = self.signing.get(provider.key)
        if keys is None:
            await self._signing_keys(provider)
            keys = self.signing.get(provider.key)
        if keys is None:
            raise RuntimeError(f"no access-key signing keys for {provider.key}")
        return keys

    async def _loop(self, interval: float, step: Any, what: str) -> None:
        while True:
            try:
                await step()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # keep serving what we have; report and retry
                self.refresh_failures += 1
                log.warning("access keys: %s failed: %s", what, exc)
            await asyncio.sleep(interval)

    # -- phases and garbage collection ------------------------------------------------------

    async def collect_once(self) -> None:
        now = time.time()
        for record in self.index.all():
            provider = self.providers.get(f"{record.namespace}/{record.provider}")
            retention = (provider.policy if provider else AccessKeyPolicy()).retention_seconds
            stopped = record.stopped_at(now)
            keys = self.signing.get(f"{record.namespace}/{record.provider}")
            listed = (
                record.token_alive(now - 900)
                and keys is not None
                and (record.signing_kid in keys.kids())
            )
            if (
                stopped is not None
                and now - stopped >= retention
                and not (record.refused(now) and listed)
            ):
                await self.store.delete(record)
                self.index.drop(record.jti)
                log.info("access key garbage-collected", extra={"jti": record.jti})
                continue
            if provider is None:
                continue
            if record.phase(now) != record.stored_phase:  # time moved it on: expiry, grace
                with contextlib.suppress(Conflict):
                    self.index.put(await self.store.replace(record))

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        with contextlib.suppress(Exception):
            await self.refresh_once()
        self._tasks = [
            asyncio.create_task(
                self._loop(self.ak.refresh_seconds, self.refresh_once, "re-list"),
                name="authgate-accesskeys-refresh",
            ),
            asyncio.create_task(
                self._loop(self.ak.gc_interval_seconds, self.collect_once, "garbage collection"),
                name="authgate-accesskeys-gc",
            ),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for verifier in self._verifiers.values():
            await verifier.close()
        self._verifiers.clear()

"""kopf handlers: an OIDCProvider becomes a ConfigMap, a status and Events.

One function, :meth:`Reconciler.reconcile`, does the work for create, update,
resume and the periodic timer; it never lets an exception escape as a crash:

* a spec the proxy's validator rejects -> ``ConfigRendered=False/InvalidSpec``
  and :class:`kopf.PermanentError` (nothing to retry until the spec changes;
  the next generation runs the update handler again);
* an IdP problem (unreachable, issuer mismatch, JWKS without keys, bad CA) ->
  ``DiscoveryFetched=False`` with the precise reason and
  :class:`kopf.TemporaryError` with exponential backoff; the timer re-checks
  every ``recheck_interval_seconds`` as well, so an IdP that comes back flips
  ``Ready`` to True without anyone touching the resource.

**Last good config.** The ConfigMap is what running pods use, so a spec is
checked against its IdP *before* it replaces a config that once passed those
checks.  A spec update that fails them (issuer changed to garbage, a mismatch,
no signing keys, a missing CA bundle) or does not render leaves the ConfigMap
as it is: ``Ready=False`` with the precise reason, and ``ConfigRendered=True``
with reason ``LastGoodConfigKept`` naming the generation the ConfigMap holds.
Only a spec that passes replaces it.  A provider that has never passed the
checks still gets its ConfigMap (marked unverified), so pods can start and
fail closed until the IdP answers; an IdP outage under an unchanged spec keeps
(and restores, if edited by hand) the same config.  Which generation passed is
recorded on the ConfigMap itself (:func:`~authgate.operator.render.verified_generation`),
so the rule holds across operator restarts.

Deletion removes the ConfigMap explicitly; the ownerReference is also set, so
a cluster's garbage collector would do the same.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import Any

import kopf

from authgate.core.contracts import API_VERSION, GROUP, PROVIDER_PLURAL
from authgate.core.errors import ReasonedError

from .browser import ensure_session_secret
from .crd import VERSION
from .discovery import ProviderIndex, entry_from_provider, served_entry
from .events import emit_transitions
from .handler_base import HandlerBase
from .idp import IdPCheckFailed, check_idp, endpoints_of
from .kube import ApiException, Kube
from .metrics import OperatorMetrics
from .render import (
    CA_FILE_NAME,
    CONFIG_HASH_ANNOTATION,
    Rendered,
    RenderError,
    configmap_manifest,
    configmap_name,
    render,
    stored_endpoints,
    verified_generation,
)
from .settings import OperatorSettings
from .status import Check, Observation, build_status

__all__ = ["Reconciler"]

log = logging.getLogger("authgate.operator.reconcile")


class _CAProblem(ReasonedError):
    """The provider's CA-bundle ConfigMap (or its key) is missing: a status reason."""


class Reconciler(HandlerBase):
    """The reconcile logic plus the kopf handlers that call it."""

    def __init__(
        self, settings: OperatorSettings, kube: Kube, index: ProviderIndex, metrics: OperatorMetrics
    ) -> None:
        super().__init__(settings, kube, index, metrics)
        self._locks: dict[str, asyncio.Lock] = {}

    # -- the work -------------------------------------------------------------------------------

    async def _ca_bundle(self, spec: Mapping[str, Any], namespace: str) -> str | None:
        if spec.get("caBundle"):
            return str(spec["caBundle"])
        ref = spec.get("caConfigMap")
        if not ref:
            return None
        name, key = ref.get("name"), ref.get("key") or CA_FILE_NAME
        cm = await self.kube.read_configmap(namespace, str(name))
        if cm is None:
            raise _CAProblem("CABundleNotFound", f"ConfigMap {namespace}/{name} not found")
        pem = (cm.get("data") or {}).get(key)
        if not pem:
            raise _CAProblem("CABundleNotFound", f"ConfigMap {namespace}/{name} has no key {key!r}")
        return str(pem)

    async def reconcile(
        self,
        body: Mapping[str, Any],
        *,
        raise_errors: bool,
        retry: int = 0,
        logger: logging.Logger | logging.LoggerAdapter[Any] | None = None,
    ) -> None:
        meta = body["metadata"]
        key = f"{meta['namespace']}/{meta['name']}"
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            await self._reconcile(body, raise_errors=raise_errors, retry=retry, logger=logger)

    async def _reconcile(
        self,
        body: Mapping[str, Any],
        *,
        raise_errors: bool,
        retry: int,
        logger: logging.Logger | logging.LoggerAdapter[Any] | None,
    ) -> None:
        meta = body["metadata"]
        namespace, name = meta["namespace"], meta["name"]
        spec: Mapping[str, Any] = body.get("spec") or {}
        generation = int(meta.get("generation") or 0)
        old_status: Mapping[str, Any] = body.get("status") or {}

        ca_pem: str | None = None
        ca_problem: _CAProblem | None = None
        try:
            ca_pem = await self._ca_bundle(spec, namespace)
        except _CAProblem as exc:
            ca_problem = exc

        # 1. Render (pure: nothing is written before the IdP has been checked).
        rendered: Rendered | None = None
        config_check: Check | None = None
        if ca_problem is not None:
            config_check = Check(False, ca_problem.reason, ca_problem.message)
        else:
            try:
                rendered = render(spec, self.settings, ca_pem, (namespace, name))
            except RenderError as exc:
                config_check = Check(False, "InvalidSpec", "; ".join(exc.errors))

        # 2. Check the IdP (discovery + JWKS).
        metadata = None
        keys = 0
        if ca_problem is not None:
            discovery_check = Check(False, ca_problem.reason, ca_problem.message)
        else:
            started = time.perf_counter()
            try:
                result = await check_idp(spec, ca_pem, self.settings.fetch_timeout_seconds)
            except IdPCheckFailed as exc:
                discovery_check = Check(False, exc.reason, exc.message)
            else:
                metadata, keys = result.metadata, result.signing_keys
                discovery_check = Check(
                    True, "Fetched", f"{keys} signing key(s) from {metadata.jwks_uri}"
                )
            self.metrics.idp_check_seconds.observe(time.perf_counter() - started)

        # 3. Write the ConfigMap, or keep the last one that passed the IdP checks.
        config_hash: str | None = None
        if rendered is not None:
            try:  # first the session key Secret the sidecars will mount (spec.browser)
                action = await ensure_session_secret(self.kube, body)
                if action:
                    log.info("session key Secret %s for %s/%s", action, namespace, name)
            except ApiException as exc:
                log.warning("session key Secret for %s/%s: HTTP %s", namespace, name, exc.status)
            config_check, config_hash = await self._apply_config(
                body, rendered, verified=discovery_check.ok, endpoints=endpoints_of(spec, metadata)
            )
        else:
            assert config_check is not None
            config_check = await self._note_kept_config(body, config_check)

        obs = Observation(
            generation=generation,
            discovery=discovery_check,
            config=config_check,
            endpoints=endpoints_of(spec, metadata),
            signing_keys=keys,
            config_map=configmap_name(name) if config_hash is not None else None,
            config_hash=config_hash,
        )
        new_status = build_status(old_status, obs)
        await self._patch_status(namespace, name, new_status)
        changed = emit_transitions(body, old_status, new_status)
        ready = obs.ready
        entry = entry_from_provider({**body, "status": new_status}, self.settings)
        if not ready.ok:  # discovery serves what the sidecars keep, not the failing spec
            entry = await self._served_entry({**body, "status": new_status}) or entry
        self.index.upsert(entry)
        self.metrics.reconciles.labels("ready" if ready.ok else "not_ready").inc()
        # Timer re-checks that change nothing log at debug: one line per provider per
        # interval would drown everything else.
        (logger or log).log(
            logging.INFO if raise_errors or changed else logging.DEBUG,
            "reconciled %s/%s: Ready=%s reason=%s",
            namespace,
            name,
            ready.ok,
            ready.reason,
        )
        if ready.ok or not raise_errors:
            return
        if not config_check.ok and config_check.reason == "InvalidSpec":
            raise kopf.PermanentError(f"{ready.reason}: {ready.message}")
        raise kopf.TemporaryError(
            f"{ready.reason}: {ready.message}", delay=self.settings.backoff(retry)
        )

    async def _served_entry(self, body: Mapping[str, Any]) -> Any:
        meta = body["metadata"]
        try:
            cm = await self.kube.read_configmap(meta["namespace"], configmap_name(meta["name"]))
        except ApiException:
            return None
        return served_entry(body, cm, self.settings)

    async def _apply_config(
        self,
        body: Mapping[str, Any],
        rendered: Rendered,
        *,
        verified: bool,
        endpoints: Mapping[str, str],
    ) -> tuple[Check, str | None]:
        """Write ``rendered`` unless it would replace a last good config with an unverified
        one; returns the ``ConfigRendered`` check and the hash of what the ConfigMap holds."""
        meta = body["metadata"]
        cm_name = configmap_name(meta["name"])
        generation = int(meta.get("generation") or 0)
        written = f"ConfigMap {cm_name} written (sha256 {rendered.hash[:12]})"
        try:
            if verified:
                await self._write(body, rendered, generation, endpoints)
                message = f"{written}; generation {generation} passed the IdP checks"
                return Check(True, "Rendered", message), rendered.hash
            existing = await self.kube.read_configmap(meta["namespace"], cm_name)
            kept = verified_generation(existing, str(meta.get("uid") or ""))
            if existing is None or kept is None:
                # Nothing good to keep: pods can start with this config and fail closed.
                await self._write(body, rendered, None)
                message = f"{written}; not yet verified against the IdP"
                return Check(True, "Rendered", message), rendered.hash
            if kept == generation:
                # The verified spec itself; only the IdP fails now.  Restore hand edits.
                if (existing.get("data") or {}) != rendered.data:
                    await self._write(body, rendered, kept, stored_endpoints(existing))
                message = (
                    f"ConfigMap {cm_name} holds generation {kept}'s config "
                    f"(sha256 {rendered.hash[:12]}), which passed the IdP checks"
                )
                return Check(True, "Rendered", message), rendered.hash
        except ApiException as exc:
            return Check(False, "ConfigMapWriteFailed", f"HTTP {exc.status}: {exc.reason}"), None
        annotations = (existing.get("metadata") or {}).get("annotations") or {}
        kept_hash = annotations.get(CONFIG_HASH_ANNOTATION)
        message = (
            f"ConfigMap {cm_name} keeps the config of generation {kept} "
            f"(sha256 {str(kept_hash)[:12]}), the last that passed the IdP checks; "
            f"generation {generation} replaces it once it passes them"
        )
        return Check(True, "LastGoodConfigKept", message), kept_hash

    async def _write(
        self,
        body: Mapping[str, Any],
        rendered: Rendered,
        verified: int | None,
        endpoints: Mapping[str, str] | None = None,
    ) -> None:
        manifest = configmap_manifest(
            body, rendered, API_VERSION, verified_generation=verified, endpoints=endpoints
        )
        await self.kube.apply_configmap(manifest)

    async def _note_kept_config(self, body: Mapping[str, Any], check: Check) -> Check:
        """``check`` (a spec that does not render) plus which config the pods keep, if any."""
        meta = body["metadata"]
        cm_name = configmap_name(meta["name"])
        try:
            existing = await self.kube.read_configmap(meta["namespace"], cm_name)
        except ApiException:
            return check
        kept = verified_generation(existing, str(meta.get("uid") or ""))
        if kept is None:
            return check
        note = f"ConfigMap {cm_name} keeps the config of generation {kept}, the last good one"
        return Check(check.ok, check.reason, f"{check.message} ({note})")

    async def _patch_status(self, namespace: str, name: str, status: Mapping[str, Any]) -> None:
        try:
            await self.kube.patch_provider_status(namespace, name, status)
        except ApiException as exc:
            raise kopf.TemporaryError(f"status update failed: HTTP {exc.status}", delay=5) from None

    async def cleanup(self, body: Mapping[str, Any]) -> None:
        meta = body["metadata"]
        namespace, name = meta["namespace"], meta["name"]
        self.index.remove(namespace, name)
        try:
            deleted = await self.kube.delete_configmap(namespace, configmap_name(name))
        except ApiException as exc:
            raise kopf.TemporaryError(
                f"deleting the ConfigMap failed: HTTP {exc.status}", delay=5
            ) from None
        self._locks.pop(f"{namespace}/{name}", None)
        log.info("deleted %s/%s (ConfigMap removed: %s)", namespace, name, deleted)

    # -- kopf wiring ----------------------------------------------------------------------------

    def register(self, registry: kopf.OperatorRegistry) -> None:
        """Attach the handlers to ``registry``."""
        resource = (GROUP, VERSION, PROVIDER_PLURAL)

        async def on_change(body: kopf.Body, retry: int, logger: Any, **_: Any) -> None:
            await self.reconcile(body, raise_errors=True, retry=retry, logger=logger)

        async def on_timer(body: kopf.Body, logger: Any, **_: Any) -> None:
            await self.reconcile(body, raise_errors=False, logger=logger)

        async def on_delete(body: kopf.Body, **_: Any) -> None:
            await self.cleanup(body)

        kopf.on.create(*resource, registry=registry, id="create")(on_change)
        kopf.on.update(*resource, registry=registry, id="update", field="spec")(on_change)
        kopf.on.resume(*resource, registry=registry, id="resume")(on_change)
        kopf.on.delete(*resource, registry=registry, id="cleanup")(on_delete)
        interval = self.settings.recheck_interval_seconds
        kopf.timer(
            *resource, registry=registry, id="recheck", interval=interval, initial_delay=interval
        )(on_timer)

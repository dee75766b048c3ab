"""The few Kubernetes API calls the operator makes itself (besides kopf's own).

The official client is synchronous, so each call runs in a worker thread; the
event loop that serves the webhook and discovery never blocks on the API.
Kept in one module so the RBAC the operator needs can be read off one page:

* ``configmaps``: get, create, patch, delete (rendered config; CA bundles)
* ``namespaces``: get (the injection label)
* ``oidcproviders``: list, get, watch, patch; ``oidcproviders/status``: patch
* ``events``: create (kopf posts them)
* ``kopfpeerings`` / ``clusterkopfpeerings``: get, create, list, watch, patch
* ``mutatingwebhookconfigurations``: create, patch (only with ``--register-webhook``)
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from authgate.core.contracts import GROUP, PROVIDER_PLURAL

from .crd import VERSION

__all__ = ["ApiException", "Kube", "load_client_config"]


def load_client_config() -> None:
    """In-cluster service account when in a pod, else ``$KUBECONFIG`` / ``~/.kube/config``."""
    try:
        config.load_incluster_config()  # type: ignore[no-untyped-call]
    except config.ConfigException:
        config.load_kube_config()  # type: ignore[no-untyped-call]


class Kube:
    """Async facade over the synchronous client (one shared ``ApiClient``)."""

    def __init__(self, api: client.ApiClient | None = None) -> None:
        self.api = api or client.ApiClient()
        self.core = client.CoreV1Api(self.api)
        self.custom = client.CustomObjectsApi(self.api)
        self.admission = client.AdmissionregistrationV1Api(self.api)
        self.extensions = client.ApiextensionsV1Api(self.api)

    @staticmethod
    async def _call(fn: Any, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("_request_timeout", 15)
        return await asyncio.to_thread(fn, *args, **kwargs)

    # -- ConfigMaps ---------------------------------------------------------------------------

    async def read_configmap(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            cm = await self._call(self.core.read_namespaced_config_map, name, namespace)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return dict(self.api.sanitize_for_serialization(cm))  # type: ignore[no-untyped-call]

    async def apply_configmap(self, manifest: Mapping[str, Any]) -> None:
        """Create the ConfigMap, or replace its data/labels/annotations/owners if it exists."""
        meta = manifest["metadata"]
        try:
            await self._call(self.core.create_namespaced_config_map, meta["namespace"], manifest)
        except ApiException as exc:
            if exc.status != 409:
                raise
            await self._call(
                self.core.patch_namespaced_config_map, meta["name"], meta["namespace"], manifest
            )

    async def delete_configmap(self, namespace: str, name: str) -> bool:
        try:
            await self._call(self.core.delete_namespaced_config_map, name, namespace)
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise
        return True

    # -- Secrets (browser session keys) ----------------------------------------------------

    async def read_secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            secret = await self._call(self.core.read_namespaced_secret, name, namespace)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return dict(self.api.sanitize_for_serialization(secret))  # type: ignore[no-untyped-call]

    async def create_secret(self, manifest: Mapping[str, Any]) -> bool:
        """Create the Secret; ``False`` when it already exists (never overwritten)."""
        try:
            await self._call(
                self.core.create_namespaced_secret, manifest["metadata"]["namespace"], manifest
            )
        except ApiException as exc:
            if exc.status == 409:
                return False
            raise
        return True

    async def patch_secret(self, namespace: str, name: str, patch: Mapping[str, Any]) -> None:
        await self._call(self.core.patch_namespaced_secret, name, namespace, patch)

    # -- Namespaces -------------------------------------------------------------------------

    async def namespace_labels(self, namespace: str) -> dict[str, str]:
        ns = await self._call(self.core.read_namespace, namespace)
        return dict(ns.metadata.labels or {})

    # -- OIDCProviders ----------------------------------------------------------------------

    async def read_provider(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            obj = await self._call(
                self.custom.get_namespaced_custom_object,
                GROUP,
                VERSION,
                namespace,
                PROVIDER_PLURAL,
                name,
            )
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return dict(obj)

    async def patch_provider_status(
        self, namespace: str, name: str, status: Mapping[str, Any]
    ) -> bool:
        """Merge-patch ``status`` (the status subresource); False if the provider is gone."""
        try:
            await self._call(
                self.custom.patch_namespaced_custom_object_status,
                GROUP,
                VERSION,
                namespace,
                PROVIDER_PLURAL,
                name,
                {"status": dict(status)},
            )
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise
        return True

    async def list_providers(self, namespaces: tuple[str, ...]) -> list[dict[str, Any]]:
        """Providers of ``namespaces`` (all namespaces when empty)."""
        if not namespaces:
            found = await self._call(
                self.custom.list_cluster_custom_object, GROUP, VERSION, PROVIDER_PLURAL
            )
            return list(found.get("items", []))
        items: list[dict[str, Any]] = []
        for ns in namespaces:
            found = await self._call(
                self.custom.list_namespaced_custom_object, GROUP, VERSION, ns, PROVIDER_PLURAL
            )
            items.extend(found.get("items", []))
        return items

    # -- Peering & CRDs -----------------------------------------------------------------------

    async def crd_exists(self, name: str) -> bool:
        try:
            await self._call(self.extensions.read_custom_resource_definition, name)
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise
        return True

    async def ensure_peering(self, name: str, namespace: str | None) -> None:
        """Create the kopf peering object (kopf only patches it, it never creates it)."""
        body: dict[str, Any] = {"apiVersion": "kopf.dev/v1", "metadata": {"name": name}}
        try:
            if namespace is None:
                body["kind"] = "ClusterKopfPeering"
                await self._call(
                    self.custom.create_cluster_custom_object,
                    "kopf.dev",
                    "v1",
                    "clusterkopfpeerings",
                    body,
                )
            else:
                body["kind"] = "KopfPeering"
                await self._call(
                    self.custom.create_namespaced_custom_object,
                    "kopf.dev",
                    "v1",
                    namespace,
                    "kopfpeerings",
                    body,
                )
        except ApiException as exc:
            if exc.status != 409:
                raise

    # -- Webhook configuration ---------------------------------------------------------------

    async def apply_mutating_webhook(self, manifest: Mapping[str, Any]) -> None:
        name = manifest["metadata"]["name"]
        try:
            await self._call(self.admission.create_mutating_webhook_configuration, manifest)
        except ApiException as exc:
            if exc.status != 409:
                raise
            # patch, not replace: the registrar needs only get/create/patch.
            await self._call(self.admission.patch_mutating_webhook_configuration, name, manifest)

"""Where access keys live: AccessKey objects and signing-key Secrets in the
Kubernetes API, and each replica's in-memory index of them.

The Kubernetes API is the database.  Every replica keeps an index of all
AccessKeys it serves, re-listed every ``refresh_seconds``; a write made by this
replica goes into the index at once (so a revocation is in this replica's
revocation list before the API call returns), and a re-list that *started*
before such a write never undoes it.

Calls made here (the RBAC in docs/operator.md and the chart lists the same):
``accesskeys``: list, create, update, delete; ``secrets``: get, create, update
(only ``authgate-accesskeys-<provider>``).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from kubernetes.client.exceptions import ApiException

from authgate.core.contracts import GROUP

from .model import ACCESS_KEY_PLURAL, AccessKeyRecord, object_name
from .signing import SigningKeySet, secret_name

if TYPE_CHECKING:  # a type only: operator.kube -> crd -> this package's policy
    from ..kube import Kube

__all__ = ["AccessKeyIndex", "AccessKeyStore", "Conflict", "revocation_document"]

VERSION = "v1alpha1"
#: Keys stay listed this long past their exp (sidecars allow clock-skew leeway on exp).
EXPIRY_MARGIN_SECONDS = 900.0


class Conflict(Exception):
    """Somebody else changed the object since we read it (HTTP 409 from the API server)."""


class AccessKeyStore:
    """The API calls; each runs in a worker thread (the client is synchronous)."""

    def __init__(self, kube: Kube) -> None:
        self.kube = kube

    async def _call(self, fn: Any, *args: Any) -> Any:
        return await asyncio.to_thread(fn, *args, _request_timeout=15)

    async def list_all(self, namespaces: tuple[str, ...]) -> list[dict[str, Any]]:
        try:
            return await self._list(namespaces)
        except ApiException as exc:
            if exc.status == 404:  # the AccessKey CRD is not installed: no keys
                return []
            raise

    async def _list(self, namespaces: tuple[str, ...]) -> list[dict[str, Any]]:
        custom = self.kube.custom
        if not namespaces:
            found = await self._call(
                custom.list_cluster_custom_object, GROUP, VERSION, ACCESS_KEY_PLURAL
            )
            return list(found.get("items", []))
        items: list[dict[str, Any]] = []
        for ns in namespaces:
            found = await self._call(
                custom.list_namespaced_custom_object, GROUP, VERSION, ns, ACCESS_KEY_PLURAL
            )
            items.extend(found.get("items", []))
        return items

    async def create(self, record: AccessKeyRecord) -> AccessKeyRecord:
        obj = await self._call(
            self.kube.custom.create_namespaced_custom_object,
            GROUP,
            VERSION,
            record.namespace,
            ACCESS_KEY_PLURAL,
            record.manifest(time.time()),
        )
        return AccessKeyRecord.from_object(obj) or record

    async def replace(self, record: AccessKeyRecord) -> AccessKeyRecord:
        """Write ``record`` if the object is still at ``record.resource_version``."""
        try:
            obj = await self._call(
                self.kube.custom.replace_namespaced_custom_object,
                GROUP,
                VERSION,
                record.namespace,
                ACCESS_KEY_PLURAL,
                object_name(record.jti),
                record.manifest(time.time()),
            )
        except ApiException as exc:
            if exc.status == 409:
                raise Conflict(record.jti) from None
            raise
        return AccessKeyRecord.from_object(obj) or record

    async def delete(self, record: AccessKeyRecord) -> None:
        try:
            await self._call(
                self.kube.custom.delete_namespaced_custom_object,
                GROUP,
                VERSION,
                record.namespace,
                ACCESS_KEY_PLURAL,
                object_name(record.jti),
            )
        except ApiException as exc:
            if exc.status != 404:
                raise

    # -- signing keys ---------------------------------------------------------------------

    async def read_signing_keys(self, namespace: str, provider: str) -> SigningKeySet | None:
        try:
            secret = await self._call(
                self.kube.core.read_namespaced_secret, secret_name(provider), namespace
            )
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        plain = self.kube.api.sanitize_for_serialization(secret)  # type: ignore[no-untyped-call]
        return SigningKeySet.from_secret(plain)

    async def write_signing_keys(
        self, namespace: str, provider: str, keys: SigningKeySet, owner: Mapping[str, Any]
    ) -> None:
        """Create the Secret, or replace it if still at ``keys.resource_version``."""
        meta: dict[str, Any] = {
            "name": secret_name(provider),
            "namespace": namespace,
            "labels": {
                "authgate.io/oidcprovider": provider,
                "app.kubernetes.io/managed-by": "authgate-operator",
            },
            "ownerReferences": [
                {
                    "apiVersion": f"{GROUP}/{VERSION}",
                    "kind": "OIDCProvider",
                    "name": provider,
                    "uid": owner["uid"],
                    "controller": True,
                    "blockOwnerDeletion": False,
                }
            ],
        }
        body: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "Opaque",
            "metadata": meta,
            "data": keys.secret_data(),
        }
        core = self.kube.core
        try:
            if keys.resource_version is None:
                await self._call(core.create_namespaced_secret, namespace, body)
            else:
                meta["resourceVersion"] = keys.resource_version
                await self._call(
                    core.replace_namespaced_secret, secret_name(provider), namespace, body
                )
        except ApiException as exc:
            if exc.status == 409:
                raise Conflict(secret_name(provider)) from None
            raise


class AccessKeyIndex:
    """All AccessKey records this replica serves, by jti."""

    def __init__(self) -> None:
        self._records: dict[str, AccessKeyRecord] = {}
        self._local: dict[str, tuple[float, AccessKeyRecord | None]] = {}
        self.loaded = False
        self.last_refresh = 0.0

    def replace_all(self, records: Iterable[AccessKeyRecord], started: float) -> None:
        """Install a re-list that began at ``started`` (``time.monotonic()``)."""
        fresh = {r.jti: r for r in records}
        for jti, (when, record) in list(self._local.items()):
            if when < started:
                del self._local[jti]  # the list has seen this write
            elif record is None:
                fresh.pop(jti, None)
            else:
                fresh[jti] = record
        self._records = fresh
        self.loaded = True
        self.last_refresh = time.monotonic()

    def put(self, record: AccessKeyRecord) -> None:
        self._records[record.jti] = record
        self._local[record.jti] = (time.monotonic(), record)

    def drop(self, jti: str) -> None:
        self._records.pop(jti, None)
        self._local[jti] = (time.monotonic(), None)

    def get(self, jti: str) -> AccessKeyRecord | None:
        return self._records.get(jti)

    def all(self) -> list[AccessKeyRecord]:
        return list(self._records.values())

    def of_provider(self, namespace: str, provider: str) -> list[AccessKeyRecord]:
        found = [
            r for r in self._records.values() if r.namespace == namespace and r.provider == provider
        ]
        return sorted(found, key=lambda r: (r.created_at, r.jti))

    def providers(self) -> set[tuple[str, str]]:
        return {(r.namespace, r.provider) for r in self._records.values()}


def revocation_document(
    issuer: str, records: Iterable[AccessKeyRecord], published_kids: Iterable[str], now: float
) -> tuple[bytes, str]:
    """The compact revocation list of one provider and its strong ETag.

    It names every key a sidecar must refuse although its JWT still verifies:
    revoked, suspended, or rotated past its grace period, not yet expired, and
    signed by a key that is still published (once a signing key leaves the JWKS
    its tokens fail on their ``kid`` anyway).  ``kids`` lists the published signing
    keys, so a sidecar that sees it change refreshes the issuer's JWKS at once
    instead of waiting for its periodic refresh.  No timestamps in the body, so an
    unchanged list keeps its ETag and polls are answered 304.
    """
    kids = sorted(set(published_kids))
    later = now - EXPIRY_MARGIN_SECONDS  # sidecars accept exp + leeway; keep entries longer
    revoked = sorted(
        r.jti for r in records if r.refused(now) and r.token_alive(later) and r.signing_kid in kids
    )
    body = json.dumps(
        {"issuer": issuer, "kids": kids, "revoked": revoked}, separators=(",", ":")
    ).encode()
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    return body, etag

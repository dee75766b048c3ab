"""One access key: the record the ``AccessKey`` custom resource holds, its
phase, and the JSON the API shows.

The record holds everything about a key *except the key*: the raw token is
returned once by ``create``/``rotate`` and only its SHA-256 is stored
(``tokenHash``), so read access to AccessKeys (or an etcd backup) leaks no
usable credential.  The token is a signed JWT, so verification never needs
the record; the record is what the API manages and what the revocation list is
computed from.

Names: the ``jti`` is ``ak_<32 hex>`` (128 random bits); Kubernetes names allow
no underscore, so the object is called ``ak-<32 hex>``.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from authgate.core.contracts import API_VERSION

__all__ = [
    "ACCESS_KEY_KIND",
    "ACCESS_KEY_PLURAL",
    "JTI_PATTERN",
    "PHASES",
    "AccessKeyRecord",
    "new_jti",
    "object_name",
    "rfc3339",
    "token_hash",
]

ACCESS_KEY_KIND = "AccessKey"
ACCESS_KEY_PLURAL = "accesskeys"
PROVIDER_LABEL = "authgate.io/oidcprovider"
JTI_PATTERN = re.compile(r"ak_[0-9a-f]{32}")
#: Printer-column phases (``status.phase``).
PHASES = ("Active", "Suspended", "Revoked", "Expired", "Rotating")
#: The states the API sets (``spec.state``); the phase adds time (Expired, Rotating).
STATES = ("Active", "Suspended", "Revoked")


def new_jti() -> str:
    return "ak_" + secrets.token_hex(16)


def object_name(jti: str) -> str:
    return "ak-" + jti[3:]


def token_hash(token: str) -> str:
    return "sha256:" + hashlib.sha256(token.encode("ascii")).hexdigest()


def rfc3339(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(int(ts), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(value: Any) -> float | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class AccessKeyRecord:
    """What the operator knows about one key (all times are Unix seconds)."""

    jti: str
    namespace: str
    provider: str
    name: str
    description: str
    principal: str  # the token's sub: the creator, or system:serviceaccount:<ns>:<name>
    email: str | None
    groups: tuple[str, ...]
    service_account: str | None  # "<namespace>/<name>" when bound to one
    created_by: str
    scopes: tuple[str, ...]
    audiences: tuple[str, ...]
    issuer: str
    token_hash: str
    signing_kid: str
    created_at: float
    expires_at: float | None  # None: never expires
    state: str = "Active"
    state_changed_at: float | None = None
    rotated_from: str | None = None
    rotated_to: str | None = None
    grace_until: float | None = None  # set on the old key of a rotation
    resource_version: str | None = None
    stored_phase: str | None = None  # status.phase as last written

    # -- time-dependent views ------------------------------------------------------

    def phase(self, now: float) -> str:
        if self.state == "Revoked":
            return "Revoked"
        if self.expires_at is not None and now >= self.expires_at:
            return "Expired"
        if self.grace_until is not None:
            return "Rotating" if now < self.grace_until else "Revoked"
        return self.state

    def refused(self, now: float) -> bool:
        """True when a sidecar must refuse this key although its JWT still verifies."""
        return self.phase(now) in ("Revoked", "Suspended")

    def stopped_at(self, now: float) -> float | None:
        """When the key stopped working for good (None: it still may work)."""
        phase = self.phase(now)
        if phase == "Expired":
            return self.expires_at
        if phase == "Revoked":
            if self.state == "Revoked":
                return self.state_changed_at or self.created_at
            return self.grace_until
        return None

    def token_alive(self, now: float) -> bool:
        """The JWT itself has not expired (so refusing it needs the revocation list)."""
        return self.expires_at is None or now < self.expires_at

    def with_state(self, state: str, now: float) -> AccessKeyRecord:
        return replace(self, state=state, state_changed_at=now)

    # -- the API's JSON --------------------------------------------------------------

    def view(self, now: float) -> dict[str, Any]:
        return {
            "jti": self.jti,
            "name": self.name,
            "description": self.description,
            "principal": self.principal,
            "service_account": self.service_account,
            "created_by": self.created_by,
            "scope": list(self.scopes),
            "status": self.phase(now),
            "issuer": self.issuer,
            "audiences": list(self.audiences),
            "provider": f"{self.namespace}/{self.provider}",
            "created_at": rfc3339(self.created_at),
            "expires_at": rfc3339(self.expires_at),
            "status_changed_at": rfc3339(self.state_changed_at),
            "rotated_from": self.rotated_from,
            "rotated_to": self.rotated_to,
            "grace_expires_at": rfc3339(self.grace_until),
        }

    # -- the custom resource ---------------------------------------------------------

    def manifest(self, now: float) -> dict[str, Any]:
        spec: dict[str, Any] = {
            "jti": self.jti,
            "provider": self.provider,
            "displayName": self.name,
            "description": self.description,
            "principal": self.principal,
            "groups": list(self.groups),
            "createdBy": self.created_by,
            "scopes": list(self.scopes),
            "audiences": list(self.audiences),
            "issuer": self.issuer,
            "tokenHash": self.token_hash,
            "signingKeyId": self.signing_kid,
            "createdAt": rfc3339(self.created_at),
            "state": self.state,
        }
        optional = {
            "email": self.email,
            "serviceAccount": self.service_account,
            "expiresAt": rfc3339(self.expires_at),
            "stateChangedAt": rfc3339(self.state_changed_at),
            "rotatedFrom": self.rotated_from,
            "rotatedTo": self.rotated_to,
            "graceUntil": rfc3339(self.grace_until),
        }
        spec.update({k: v for k, v in optional.items() if v is not None})
        metadata: dict[str, Any] = {
            "name": object_name(self.jti),
            "namespace": self.namespace,
            "labels": {
                PROVIDER_LABEL: self.provider,
                "app.kubernetes.io/managed-by": "authgate-operator",
            },
        }
        if self.resource_version:
            metadata["resourceVersion"] = self.resource_version
        return {
            "apiVersion": API_VERSION,
            "kind": ACCESS_KEY_KIND,
            "metadata": metadata,
            "spec": spec,
            "status": {"phase": self.phase(now)},
        }

    @classmethod
    def from_object(cls, obj: Mapping[str, Any]) -> AccessKeyRecord | None:
        """The record of an AccessKey object; None when it is not one of ours."""
        meta = obj.get("metadata") or {}
        spec = obj.get("spec") or {}
        jti = spec.get("jti")
        created = _parse_time(spec.get("createdAt"))
        if not isinstance(jti, str) or not JTI_PATTERN.fullmatch(jti) or created is None:
            return None
        state = spec.get("state")

        def strings(name: str) -> tuple[str, ...]:
            value = spec.get(name) or []
            return tuple(str(v) for v in value) if isinstance(value, list) else ()

        def opt(name: str) -> str | None:
            value = spec.get(name)
            return str(value) if isinstance(value, str) and value else None

        return cls(
            jti=jti,
            namespace=str(meta.get("namespace", "")),
            provider=str(spec.get("provider", "")),
            name=str(spec.get("displayName", "")),
            description=str(spec.get("description", "")),
            principal=str(spec.get("principal", "")),
            email=opt("email"),
            groups=strings("groups"),
            service_account=opt("serviceAccount"),
            created_by=str(spec.get("createdBy", "")),
            scopes=strings("scopes"),
            audiences=strings("audiences"),
            issuer=str(spec.get("issuer", "")),
            token_hash=str(spec.get("tokenHash", "")),
            signing_kid=str(spec.get("signingKeyId", "")),
            created_at=created,
            expires_at=_parse_time(spec.get("expiresAt")),
            state=state if state in STATES else "Revoked",  # unknown: fail closed
            state_changed_at=_parse_time(spec.get("stateChangedAt")),
            rotated_from=opt("rotatedFrom"),
            rotated_to=opt("rotatedTo"),
            grace_until=_parse_time(spec.get("graceUntil")),
            resource_version=meta.get("resourceVersion") or meta.get("resource_version"),
            stored_phase=(obj.get("status") or {}).get("phase"),
        )

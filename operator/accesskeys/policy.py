"""A provider's access-key policy: ``spec.accessKeys`` of an OIDCProvider.

The policy is the operator's business, not the sidecar's: the rules (expiry
bounds, rotation grace, who may bind a key to a service account) are enforced
when a key is minted, so they live in the provider spec next to the IdP and
are read here, once per request, from the provider object the operator's
index holds.  The sidecar only learns the consequences: an extra issuer entry
and the revocation list (see :mod:`authgate.operator.accesskeys.render`).

Never-expiring keys exist only when ``maxExpirySeconds`` is explicitly ``0``
("no maximum"): a forgotten setting must never produce immortal credentials.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["SPEC_SCHEMA", "AccessKeyPolicy", "policy_of"]

DAY = 86400

#: The ``spec.accessKeys`` schema of the OIDCProvider CRD (merged by operator/crd.py).
SPEC_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Scoped access keys: tokens the operator mints for automation "
    "(/apis/auth/v2/access-keys). Off unless enabled.",
    "properties": {
        "enabled": {
            "type": "boolean",
            "default": False,
            "description": "Serve the access-key API for this provider and make its "
            "sidecars accept the operator's access-key issuer.",
        },
        "defaultExpirySeconds": {
            "type": "integer",
            "minimum": 60,
            "maximum": 10 * 365 * DAY,
            "default": 30 * DAY,
            "description": "Lifetime of a key created without expires_in_seconds.",
        },
        "maxExpirySeconds": {
            "type": "integer",
            "minimum": 0,
            "maximum": 10 * 365 * DAY,
            "default": 90 * DAY,
            "description": "Longest lifetime a key may ask for. 0 disables "
            "the maximum, which alone allows keys that never "
            "expire (expires_in_seconds: 0).",
        },
        "maxGraceSeconds": {
            "type": "integer",
            "minimum": 0,
            "maximum": 30 * DAY,
            "default": DAY,
            "description": "Longest grace period of a rotation (the old key "
            "stays valid this long).",
        },
        "adminGroups": {
            "type": "array",
            "maxItems": 16,
            "default": [],
            "items": {"type": "string", "minLength": 1, "maxLength": 256},
            "description": "Members may create keys bound to a service account "
            "and manage every key of the provider.",
        },
        "retentionSeconds": {
            "type": "integer",
            "minimum": 0,
            "maximum": 365 * DAY,
            "default": 7 * DAY,
            "description": "Expired and revoked keys are deleted this long "
            "after they stopped working.",
        },
        "revocationPollSeconds": {
            "type": "number",
            "minimum": 0.5,
            "maximum": 60,
            "default": 2,
            "description": "How often each sidecar polls the revocation list (ETag/304).",
        },
        "revocationMaxStaleSeconds": {
            "type": "number",
            "minimum": 5,
            "maximum": 3600,
            "default": 60,
            "description": "Without a fresh revocation list for this "
            "long a sidecar refuses access keys (IdP "
            "tokens are unaffected).",
        },
    },
}


def _default(name: str) -> Any:
    return SPEC_SCHEMA["properties"][name]["default"]


@dataclass(frozen=True, slots=True)
class AccessKeyPolicy:
    """The effective ``spec.accessKeys`` (defaults applied; the CRD enforces the bounds)."""

    enabled: bool = False
    default_expiry_seconds: int = _default("defaultExpirySeconds")
    max_expiry_seconds: int = _default("maxExpirySeconds")  # 0: no maximum
    max_grace_seconds: int = _default("maxGraceSeconds")
    admin_groups: tuple[str, ...] = ()
    retention_seconds: int = _default("retentionSeconds")
    revocation_poll_seconds: float = _default("revocationPollSeconds")
    revocation_max_stale_seconds: float = _default("revocationMaxStaleSeconds")

    @property
    def never_expiring_allowed(self) -> bool:
        return self.max_expiry_seconds == 0

    def effective_default_expiry(self) -> int:
        """The default lifetime, never above the maximum."""
        if self.max_expiry_seconds:
            return min(self.default_expiry_seconds, self.max_expiry_seconds)
        return self.default_expiry_seconds

    def is_admin(self, groups: tuple[str, ...]) -> bool:
        return bool(self.admin_groups) and bool(set(groups) & set(self.admin_groups))


def _int(raw: Mapping[str, Any], name: str) -> int:
    value = raw.get(name, _default(name))
    return (
        int(value)
        if isinstance(value, int | float) and not isinstance(value, bool)
        else int(_default(name))
    )


def _float(raw: Mapping[str, Any], name: str) -> float:
    value = raw.get(name, _default(name))
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    return float(value) if ok else float(_default(name))


def policy_of(spec: Mapping[str, Any]) -> AccessKeyPolicy:
    """The policy of an OIDCProvider ``spec`` (an absent section: disabled)."""
    raw = spec.get("accessKeys")
    if not isinstance(raw, Mapping):
        return AccessKeyPolicy()
    groups = raw.get("adminGroups") or []
    return AccessKeyPolicy(
        enabled=raw.get("enabled") is True,
        default_expiry_seconds=_int(raw, "defaultExpirySeconds"),
        max_expiry_seconds=_int(raw, "maxExpirySeconds"),
        max_grace_seconds=_int(raw, "maxGraceSeconds"),
        admin_groups=tuple(str(g) for g in groups if isinstance(g, str)),
        retention_seconds=_int(raw, "retentionSeconds"),
        revocation_poll_seconds=_float(raw, "revocationPollSeconds"),
        revocation_max_stale_seconds=_float(raw, "revocationMaxStaleSeconds"),
    )

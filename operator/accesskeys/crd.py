"""The ``AccessKey`` CustomResourceDefinition: one object per key, in the
provider's namespace, written only by the operator (see docs/operator.md for
the RBAC: people get ``get/list/watch`` at most, never write access).

There is no status subresource on purpose: the operator writes the whole record,
state and phase in one request, so a key is never half revoked.  The printer
columns show the phase (Active, Suspended, Revoked, Expired, Rotating), which
the operator refreshes when time changes it (expiry, end of a grace period).
"""

from __future__ import annotations

from typing import Any

from authgate.core.contracts import GROUP

from ..crd_document import CRDNames, CRDVersion, crd_document
from .model import ACCESS_KEY_KIND, ACCESS_KEY_PLURAL, PHASES, STATES

__all__ = ["ACCESS_KEY_CRD_NAME", "access_key_crd_manifest"]

ACCESS_KEY_CRD_NAME = f"{ACCESS_KEY_PLURAL}.{GROUP}"
_TIME = {"type": "string", "format": "date-time", "maxLength": 32}
_STR = {"type": "string", "maxLength": 1024}
_LIST = {"type": "array", "maxItems": 64, "items": {"type": "string", "maxLength": 512}}


def _spec_schema() -> dict[str, Any]:
    props: dict[str, Any] = {
        "jti": {"type": "string", "pattern": "^ak_[0-9a-f]{32}$", "description": "Token id."},
        "provider": {**_STR, "description": "OIDCProvider (same namespace) the key is for."},
        "displayName": {**_STR, "description": "Name given at creation."},
        "description": {**_STR, "description": "Free text given at creation."},
        "principal": {**_STR, "description": "The token's sub: the creator or a service account."},
        "email": {**_STR, "description": "The creator's email, copied into the token."},
        "groups": {**_LIST, "description": "The creator's groups, copied into the token."},
        "serviceAccount": {**_STR, "description": "<namespace>/<name> of a bound account."},
        "createdBy": {**_STR, "description": "Subject of the person who created the key."},
        "scopes": {**_LIST, "description": "Scopes the key carries (a subset of the creator's)."},
        "audiences": {**_LIST, "description": "The token's aud."},
        "issuer": {**_STR, "description": "The token's iss (the operator's access-key issuer)."},
        "tokenHash": {
            "type": "string",
            "maxLength": 80,
            "description": "sha256 of the token; the token itself is never stored.",
        },
        "signingKeyId": {
            "type": "string",
            "maxLength": 128,
            "description": "kid of the operator key that signed it.",
        },
        "createdAt": _TIME,
        "expiresAt": {**_TIME, "description": "Absent: never expires."},
        "state": {
            "type": "string",
            "enum": list(STATES),
            "description": "Set by the API: Active, Suspended or Revoked.",
        },
        "stateChangedAt": _TIME,
        "rotatedFrom": {"type": "string", "maxLength": 40},
        "rotatedTo": {"type": "string", "maxLength": 40},
        "graceUntil": {**_TIME, "description": "End of the rotation grace period."},
    }
    return {
        "type": "object",
        "required": ["jti", "provider", "principal", "tokenHash", "createdAt", "state"],
        "properties": props,
    }


def access_key_crd_manifest() -> dict[str, Any]:
    """The ``apiextensions.k8s.io/v1`` CRD of AccessKey."""
    columns: list[dict[str, Any]] = [
        {"name": "Key-Name", "type": "string", "jsonPath": ".spec.displayName"},
        {"name": "Principal", "type": "string", "jsonPath": ".spec.principal"},
        {"name": "Status", "type": "string", "jsonPath": ".status.phase"},
        {"name": "Expires", "type": "string", "jsonPath": ".spec.expiresAt"},
        {"name": "Provider", "type": "string", "jsonPath": ".spec.provider", "priority": 1},
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    ]
    phase = {
        "type": "string",
        "enum": list(PHASES),
        "description": "Active, Suspended, Revoked, Expired or Rotating.",
    }
    version = CRDVersion(
        "v1alpha1",
        {
            "spec": _spec_schema(),
            "status": {"type": "object", "properties": {"phase": phase}},
        },
        description="AccessKey: one scoped access key minted by the authgate operator. "
        "Holds metadata and the token's hash, never the token.",
        printer_columns=columns,
    )
    names = CRDNames(ACCESS_KEY_KIND, ACCESS_KEY_PLURAL, ["ak"])
    return crd_document(GROUP, names, version)

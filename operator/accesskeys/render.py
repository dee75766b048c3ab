"""What a provider's sidecars get when ``spec.accessKeys.enabled``: one more
issuer entry (``kind: access_key``) in the rendered ProxyConfig, next to the IdP.

The entry names the operator's issuer for this provider
(``<public-url>/apis/auth/v2/issuers/<namespace>/<provider>``), which the
sidecar's key cache discovers like any issuer, and the revocation poller's
settings.  Audience and claim mapping need nothing: access keys carry the
provider's own audience and fixed claims (:func:`authgate.core.issuers.access_key_mapper`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .policy import policy_of
from .settings import ISSUER_PATH, AccessKeySettings

__all__ = ["ENTRY_NAME", "access_key_entry", "issuer_url", "public_url"]

ENTRY_NAME = "access-keys"


def public_url(settings: AccessKeySettings, address: str, port: int) -> str:
    """The operator's base URL as sidecars reach it."""
    if settings.public_url:
        return settings.public_url.rstrip("/")
    host = "127.0.0.1" if address in ("0.0.0.0", "::", "") else address
    return f"http://{host}:{port}"


def issuer_url(base: str, namespace: str, provider: str) -> str:
    return f"{base}{ISSUER_PATH}/{namespace}/{provider}"


def access_key_entry(
    spec: Mapping[str, Any], base: str, namespace: str, provider: str
) -> dict[str, Any] | None:
    """The ``issuers`` entry for ``spec`` (None when access keys are off)."""
    policy = policy_of(spec)
    if not policy.enabled:
        return None
    return {
        "name": ENTRY_NAME,
        "kind": "access_key",
        "issuer": issuer_url(base, namespace, provider),
        "access_key": {
            "poll_seconds": policy.revocation_poll_seconds,
            "max_stale_seconds": policy.revocation_max_stale_seconds,
        },
    }

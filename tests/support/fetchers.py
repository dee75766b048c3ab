"""The one in-memory IdP: the core's injected fetcher contract over a dict, no sockets.

``KeyCache(issuer, MemoryIdP(...), ...)`` is how the core, property and fuzz tests give
the core an identity provider: every URL asked for is recorded in :attr:`MemoryIdP.calls`,
the discovery document and the JWKS are answered from memory, anything else is a 404,
and ``up = False`` makes every fetch fail as a refused connection would.

The loopback HTTP fake (for processes) is :mod:`tests.support.idp`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from authgate.core.oidc import FetchError, FetchResult

__all__ = ["DISCOVERY_PATH", "KEYCLOAK_CERTS_PATH", "MemoryIdP"]

DISCOVERY_PATH = "/.well-known/openid-configuration"
KEYCLOAK_CERTS_PATH = "/protocol/openid-connect/certs"


@dataclass
class MemoryIdP:
    """Discovery at ``base + DISCOVERY_PATH`` and ``jwks`` at ``base + jwks_path``.

    ``base`` is the issuer unless set (a Kubernetes apiserver serves the discovery of an
    issuer that is not its own URL). The document names ``discovery_issuer`` (default: the
    issuer) and ``advertised_jwks_uri`` (default: where the JWKS is served); setting them
    apart from the truth is how tests check the core's refusals and rewrites.
    """

    jwks: dict[str, Any]
    issuer: str
    base: str | None = None
    jwks_path: str = KEYCLOAK_CERTS_PATH
    discovery_issuer: str | None = None
    advertised_jwks_uri: str | None = None
    #: Extra endpoints the discovery document names (``token_endpoint`` …), beside
    #: ``issuer`` and ``jwks_uri``.
    endpoints: dict[str, str] = field(default_factory=dict)
    up: bool = True
    calls: list[str] = field(default_factory=list)

    @property
    def discovery_url(self) -> str:
        return (self.base or self.issuer) + DISCOVERY_PATH

    @property
    def jwks_uri(self) -> str:
        """Where the JWKS is served."""
        return (self.base or self.issuer) + self.jwks_path

    @property
    def jwks_calls(self) -> int:
        return sum(1 for c in self.calls if c == self.jwks_uri)

    def metadata(self) -> dict[str, Any]:
        return {
            "issuer": self.discovery_issuer or self.issuer,
            "jwks_uri": self.advertised_jwks_uri or self.jwks_uri,
            **self.endpoints,
        }

    async def __call__(self, url: str) -> FetchResult:
        self.calls.append(url)
        if not self.up:
            raise FetchError("connection refused")
        if url == self.discovery_url:
            return FetchResult(200, json.dumps(self.metadata()).encode())
        if url == self.jwks_uri:
            return FetchResult(200, json.dumps(self.jwks).encode())
        return FetchResult(404, b"not found")


def keycloak_endpoints(issuer: str) -> dict[str, str]:
    """The endpoints a Keycloak realm's discovery document names besides its keys."""
    return {
        "token_endpoint": issuer + "/protocol/openid-connect/token",
        "device_authorization_endpoint": issuer + "/protocol/openid-connect/auth/device",
        "authorization_endpoint": issuer + "/protocol/openid-connect/auth",
    }

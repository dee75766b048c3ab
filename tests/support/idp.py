"""The one fake identity provider that serves real HTTP on loopback, and its keys.

:class:`LocalIdP` publishes an OIDC discovery document and a JWKS from an aiohttp app on
a :class:`~tests.support.servers.ServerThread`, the way Keycloak lays them out under
the issuer (``<issuer>/.well-known/openid-configuration``,
``<issuer>/protocol/openid-connect/certs``). What a suite needs of it:

* the proxy, hostile, fault and workload suites: its :class:`KeyPair` s (one RSA, one EC
  by default) and :meth:`LocalIdP.mint` for tokens they sign;
* the operator suite: a hand-set :attr:`LocalIdP.discovery` (issuer mismatch) or
  :attr:`LocalIdP.jwks` (no keys), which replace the generated documents;
* outages: :attr:`LocalIdP.mode` ``"error"`` (HTTP 503) or :meth:`LocalIdP.stop`
  (connection refused);
* HTTPS: ``ssl_context``;
* fetch counts: :attr:`LocalIdP.discovery_hits`, :attr:`LocalIdP.jwks_hits`.

The core's in-memory fetcher (no sockets) is :mod:`tests.support.fetchers`.
"""

from __future__ import annotations

import base64
import json
import ssl
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import jwt
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.support.servers import ServerThread

__all__ = ["AUDIENCE", "KeyPair", "LocalIdP", "serve_idp"]

#: The audience the suites' proxy configs require (``oidc.audience``).
AUDIENCE = "api://authgate"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass
class KeyPair:
    """A signing key with its ``kid`` and ``alg``, as the IdP publishes it."""

    kid: str
    alg: str
    private: Any
    public: Any

    @classmethod
    def rsa(cls, kid: str) -> KeyPair:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return cls(kid, "RS256", key, key.public_key())

    @classmethod
    def ec(cls, kid: str) -> KeyPair:
        key = ec.generate_private_key(ec.SECP256R1())
        return cls(kid, "ES256", key, key.public_key())

    def jwk(self) -> dict[str, Any]:
        algo = (
            jwt.algorithms.RSAAlgorithm
            if self.alg.startswith(("RS", "PS"))
            else jwt.algorithms.ECAlgorithm
        )
        data: dict[str, Any] = json.loads(algo.to_jwk(self.public))
        data.update({"kid": self.kid, "use": "sig", "alg": self.alg})
        return data

    @property
    def public_pem(self) -> bytes:
        return bytes(
            self.public.public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )

    def sign(
        self, claims: dict[str, Any], headers: dict[str, Any] | None = None, alg: str | None = None
    ) -> str:
        """A JWS with a genuine signature.  Built by hand (PyJWT's own signer,
        not its encoder) because the encoder refuses ill-typed claims such as
        a non-string ``iss`` — which hostile tests need to send."""
        header = {"alg": alg or self.alg, "typ": "JWT", "kid": self.kid, **(headers or {})}
        signing_input = (
            f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        )
        algo = jwt.get_algorithm_by_name(alg or self.alg)
        sig = algo.sign(signing_input.encode(), self.private)
        return f"{signing_input}.{_b64url(sig)}"


def default_keys() -> list[KeyPair]:
    """One RSA (``rsa-1``) and one EC (``ec-1``) key."""
    return [KeyPair.rsa("rsa-1"), KeyPair.ec("ec-1")]


@dataclass
class LocalIdP:
    """Discovery + JWKS on loopback.

    ``realm`` is the issuer's path (``""``: the issuer is the bare origin). ``keys`` is
    what is published unless :attr:`jwks` is set; :attr:`discovery`, when set, is served
    instead of the generated document. ``mode`` is ``"ok"`` or ``"error"`` (HTTP 503
    for both documents); :meth:`stop` makes the port refuse connections.
    """

    servers: ServerThread
    keys: list[KeyPair] = field(default_factory=list)
    realm: str = "/realms/authgate"
    port: int = 0
    ssl_context: ssl.SSLContext | None = None
    mode: str = "ok"
    discovery: dict[str, Any] | None = None
    jwks: dict[str, Any] | None = None
    discovery_hits: int = 0
    jwks_hits: int = 0
    _runner: web.AppRunner | None = None

    @property
    def origin(self) -> str:
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    @property
    def issuer(self) -> str:
        return self.origin + self.realm

    @property
    def jwks_uri(self) -> str:
        return self.issuer + "/protocol/openid-connect/certs"

    @property
    def token_endpoint(self) -> str:
        return self.issuer + "/protocol/openid-connect/token"

    @property
    def device_authorization_endpoint(self) -> str:
        return self.issuer + "/protocol/openid-connect/auth/device"

    @property
    def authorization_endpoint(self) -> str:
        return self.issuer + "/protocol/openid-connect/auth"

    @property
    def primary(self) -> KeyPair:
        return self.keys[0]

    def key(self, alg: str) -> KeyPair:
        """The first published key with this ``alg`` (``RS256``, ``ES256``)."""
        return next(k for k in self.keys if k.alg == alg)

    def start(self) -> LocalIdP:
        """Listen (again, on the same port after :meth:`stop`)."""
        if not self.keys:
            self.keys = default_keys()
        app = web.Application()
        app.router.add_get(self.realm + "/.well-known/openid-configuration", self._discovery)
        app.router.add_get(self.realm + "/protocol/openid-connect/certs", self._jwks)
        self._runner, self.port = self.servers.serve(app, self.port, self.ssl_context)
        return self

    def stop(self) -> None:
        """Outage: stop listening (clients get connection refused)."""
        if self._runner is not None:
            self.servers.stop_runner(self._runner)
            self._runner = None

    def document(self) -> dict[str, Any]:
        """The discovery document served now."""
        if self.discovery is not None:
            return self.discovery
        return {
            "issuer": self.issuer,
            "jwks_uri": self.jwks_uri,
            "token_endpoint": self.token_endpoint,
            "device_authorization_endpoint": self.device_authorization_endpoint,
            "authorization_endpoint": self.authorization_endpoint,
        }

    async def _discovery(self, request: web.Request) -> web.Response:
        self.discovery_hits += 1
        if self.mode == "error":
            return web.Response(status=503)
        return web.json_response(self.document())

    async def _jwks(self, request: web.Request) -> web.Response:
        self.jwks_hits += 1
        if self.mode == "error":
            return web.Response(status=503)
        published = self.jwks if self.jwks is not None else {"keys": [k.jwk() for k in self.keys]}
        return web.json_response(published)

    def mint(
        self,
        *,
        scope: str | None = "openid platform:read platform:write",
        kind: str = "rsa",
        ttl: int = 300,
        **claims: Any,
    ) -> str:
        """A valid user token for the proxy suites' config (``aud`` :data:`AUDIENCE`),
        signed with the RSA key (``kind="ec"``: the EC key); ``claims`` override."""
        now = int(time.time())
        payload: dict[str, Any] = {
            "iss": self.issuer,
            "aud": AUDIENCE,
            "sub": "user-1",
            "email": "alice@example.com",
            "groups": ["developers"],
            "iat": now,
            "nbf": now,
            "exp": now + ttl,
            "jti": uuid.uuid4().hex,
        }
        if scope is not None:
            payload["scope"] = scope
        payload.update(claims)
        return self.key("ES256" if kind == "ec" else "RS256").sign(payload)


@contextmanager
def serve_idp(**options: Any) -> Iterator[LocalIdP]:
    """A started :class:`LocalIdP` on a server thread of its own, for a ``with`` block
    or a fixture that has no :class:`ServerThread` to share (``options``: its fields)."""
    servers = ServerThread()
    try:
        yield LocalIdP(servers, **options).start()
    finally:
        servers.close()

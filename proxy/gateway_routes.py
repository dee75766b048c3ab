"""Gateway-mode endpoints under ``/apis/auth/``, for the shared router.

:func:`gateway_endpoints` registers them in the shared router
(:data:`authgate.proxy.extensions.ENDPOINTS`), so neither engine has gateway
code; each handler calls :func:`gateway_answer`; the decision is the core's
(:class:`~authgate.core.gatekeeper.Gatekeeper`), the rendering is here, once:

==================================  ============================================
``/apis/auth/authenticate``         NeMo's gateway callout and "who am I"
                                    (always served): 200 + identity headers +
                                    JSON principal, or 401/400 + challenge
``/apis/auth/check``                nginx ``auth_request`` / ingress-nginx
                                    ``auth-url`` (``gateway.enabled``)
``/apis/auth/forward-auth``         Traefik ``ForwardAuth``, Caddy
                                    ``forward_auth`` (``gateway.enabled``)
``gateway.envoy_path_prefix`` + /…  Envoy ``ext_authz`` HTTP service
                                    (``gateway.enabled``)
==================================  ============================================

An allow answer is ``200`` with the configured identity headers (empty body
for the checks); a denial is the sidecar's own answer (401/403 with
``WWW-Authenticate``, 400 for a malformed request — 403 on ``/apis/auth/check``,
since nginx turns any check status but 2xx/401/403 into a 500).  Every answer says
``Cache-Control: no-store``.  With ``gateway.proxy_upstream: false`` (a
dedicated gateway Deployment) any other path is answered 404 here instead of
being proxied to an upstream that does not exist.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from authgate.core.config import ProxyConfig
from authgate.core.errors import AuthError
from authgate.core.forwarding import peer_trusted
from authgate.core.gatekeeper import Gatekeeper, Verdict
from authgate.core.gateway import Flavour, principal_document

from .edge import EdgeRequest, EdgeResponse
from .routes import EDGE_PREFIX, Endpoint, Handler

if TYPE_CHECKING:  # pragma: no cover
    from .runtime import Runtime

__all__ = [
    "AUTHENTICATE_PATH",
    "CHECK_PATH",
    "FORWARD_AUTH_PATH",
    "GatewayResponse",
    "gateway_answer",
    "gateway_endpoint",
    "gateway_endpoints",
]

AUTHENTICATE_PATH = "/apis/auth/authenticate"
CHECK_PATH = "/apis/auth/check"
FORWARD_AUTH_PATH = "/apis/auth/forward-auth"
_NO_STORE = ("Cache-Control", "no-store")
_JSON = ("Content-Type", "application/json")
_FLAVOURS = {CHECK_PATH: Flavour.NGINX, FORWARD_AUTH_PATH: Flavour.FORWARD_AUTH}


@dataclass(frozen=True, slots=True)
class GatewayResponse:
    """Status, headers and body of a gateway-mode answer (no framing headers)."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes = b""
    outcome: str = "allowed"
    reason: str | None = None
    subject: str | None = None


def gateway_endpoint(config: ProxyConfig, raw_target: str) -> str | None:
    """Which gateway endpoint ``raw_target`` addresses: ``"authenticate"``,
    ``"check"``, ``"forward_auth"``, ``"envoy"``, ``"not_found"`` (nothing is
    proxied in a dedicated gateway) or ``None`` (not ours: route as usual)."""
    path = raw_target.partition("?")[0]
    if path == AUTHENTICATE_PATH:
        return "authenticate"
    gateway = config.gateway
    if gateway.enabled:
        if path in _FLAVOURS:
            return _FLAVOURS[path].value
        if path.startswith(gateway.envoy_path_prefix + "/"):
            return Flavour.ENVOY.value
    if not gateway.proxy_upstream:
        return "not_found"
    return None


def _error(exc: AuthError, endpoint: str) -> GatewayResponse:
    """The sidecar's denial; for nginx a 400 becomes 403, because
    ``auth_request`` accepts only 401 and 403 as denials and turns every other
    status into a 500 (the body still says ``invalid_request``)."""
    headers: list[tuple[str, str]] = [_JSON, _NO_STORE]
    challenge = exc.www_authenticate("authgate")
    if challenge is not None:
        headers.append(("WWW-Authenticate", challenge))
    body = json.dumps(exc.body(), separators=(",", ":")).encode()
    status = 403 if exc.status == 400 and endpoint == Flavour.NGINX.value else exc.status
    return GatewayResponse(status, tuple(headers), body, "denied", exc.reason)


def _allow(verdict: Verdict, body: bytes = b"", *extra: tuple[str, str]) -> GatewayResponse:
    subject = verdict.principal.subject if verdict.principal is not None else None
    outcome = "allowed" if verdict.principal is not None else "public"
    headers = (*extra, _NO_STORE, *verdict.identity)
    return GatewayResponse(200, headers, body, outcome, None, subject)


async def gateway_answer(
    keeper: Gatekeeper,
    endpoint: str,
    method: str,
    raw_target: str,
    headers: Sequence[tuple[str, str]],
    peer: str,
    trusted_proxies: Sequence[str],
) -> GatewayResponse:
    """The answer for a request :func:`gateway_endpoint` routed to ``endpoint``."""
    if endpoint == "not_found":
        body = b'{"error":"not_found","reason":"not_found","description":"no such endpoint"}'
        return GatewayResponse(404, (_JSON, _NO_STORE), body, "rejected", "not_found")
    try:
        if endpoint == "authenticate":
            verdict = await keeper.authenticate(raw_target, headers)
            assert verdict.principal is not None
            document = principal_document(verdict.principal)
            return _allow(verdict, json.dumps(document, separators=(",", ":")).encode(), _JSON)
        verdict = await keeper.check(
            Flavour(endpoint),
            method,
            raw_target,
            headers,
            trusted_peer=peer_trusted(peer, trusted_proxies),
        )
    except AuthError as exc:
        return _error(exc, endpoint)
    return _allow(verdict)


def _handler(endpoint: str) -> Handler:
    """The router handler for one gateway endpoint name."""

    async def handle(request: EdgeRequest, runtime: Runtime) -> EdgeResponse:
        answer = await gateway_answer(
            runtime.gatekeeper,
            endpoint,
            request.method,
            request.raw_target,
            request.headers,
            request.peer,
            runtime.config.server.trusted_proxies,
        )
        return EdgeResponse(answer.status, answer.headers, answer.body)

    return handle


def gateway_endpoints(config: ProxyConfig) -> Iterable[Endpoint]:
    """The gateway-mode endpoints for the shared router (proxy/extensions.py).

    Every method is accepted (a check carries the original request's method);
    the Gate is not run by the router, because the gatekeeper decides on the
    *original* request the gateway describes, not on this one.
    """
    any_method: frozenset[str] = frozenset()
    yield Endpoint(AUTHENTICATE_PATH, any_method, _handler("authenticate"))
    gateway = config.gateway
    if gateway.enabled:
        for path, flavour in _FLAVOURS.items():
            yield Endpoint(path, any_method, _handler(flavour.value))
        yield Endpoint(
            gateway.envoy_path_prefix, any_method, _handler(Flavour.ENVOY.value), match="prefix"
        )
    if not gateway.proxy_upstream:
        yield Endpoint(EDGE_PREFIX, any_method, _handler("not_found"), match="fallback")

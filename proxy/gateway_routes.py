"""Gateway-mode endpoints under ``/apis/auth/``, for the shared router.

Both engines hand these requests to the router, which calls
:func:`gateway_answer`; the decision is the core's
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

import ipaddress
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from authgate.core.config import ProxyConfig
from authgate.core.errors import AuthError
from authgate.core.gatekeeper import Gatekeeper, Verdict
from authgate.core.gateway import Flavour, principal_document

__all__ = [
    "AUTHENTICATE_PATH",
    "CHECK_PATH",
    "FORWARD_AUTH_PATH",
    "EdgeAnswer",
    "GatewayResponse",
    "edge_answerer",
    "gateway_answer",
    "gateway_endpoint",
]

AUTHENTICATE_PATH = "/apis/auth/authenticate"
CHECK_PATH = "/apis/auth/check"
FORWARD_AUTH_PATH = "/apis/auth/forward-auth"
_NO_STORE = ("Cache-Control", "no-store")
_JSON = ("Content-Type", "application/json")
_FLAVOURS = {CHECK_PATH: Flavour.NGINX, FORWARD_AUTH_PATH: Flavour.FORWARD_AUTH}

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


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


@lru_cache(maxsize=16)
def _networks(cidrs: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(c, strict=False) for c in cidrs)


def peer_trusted(peer: str, cidrs: Sequence[str]) -> bool:
    """True when ``peer`` (an IP address, possibly IPv4-mapped IPv6) lies in
    one of ``cidrs`` (``server.trusted_proxies``; empty trusts nobody)."""
    if not cidrs:
        return False
    try:
        address = ipaddress.ip_address(peer.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in _networks(tuple(cidrs)))


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


#: What an engine calls for every request before deciding it itself:
#: ``await edge(method, raw_target, headers, peer)`` → an answer, or ``None``.
EdgeAnswer = Callable[
    [str, str, Sequence[tuple[str, str]], str], Awaitable["GatewayResponse | None"]
]


def edge_answerer(current: Callable[[], Any]) -> EdgeAnswer:
    """The engines' single entry to gateway mode, bound to the live runtime
    (``current()`` returns the :class:`~authgate.proxy.runtime.Runtime`, read
    once per request so a hot reload never mixes configurations)."""

    async def answer(
        method: str, raw_target: str, headers: Sequence[tuple[str, str]], peer: str
    ) -> GatewayResponse | None:
        runtime = current()
        config = runtime.config
        endpoint = gateway_endpoint(config, raw_target)
        if endpoint is None:
            return None
        return await gateway_answer(
            runtime.gatekeeper, endpoint, method, raw_target, headers, peer,
            config.server.trusted_proxies,
        )  # fmt: skip

    return answer

"""The ``/apis/auth/`` router: endpoints the proxy answers itself, on both engines.

An :class:`Endpoint` is a path under :data:`EDGE_PREFIX` (exact by default;
``match="prefix"`` for Envoy ext_authz, ``match="fallback"`` for a gateway
that proxies nothing), its methods (empty: any),
a handler ``async (EdgeRequest, Runtime) -> EdgeResponse``, whether the Gate
must authenticate the request first (``authenticate``), and how much body it
reads (``max_body_bytes``).  Both engines call :meth:`Router.match` on every
request target before proxying; a match is answered here and never reaches
the upstream, anything else is proxied as before.  Matching is on the
*normalised* path, so ``/apis/%61uth/discovery`` is the discovery endpoint
too, and a path the normaliser refuses is left to the Gate (which answers
400).  A registered path with another method is answered ``405`` with
``Allow`` (RFC 9110 §15.5.6).

Endpoints are built per :class:`~authgate.proxy.runtime.Runtime` from the
factories in :data:`authgate.proxy.extensions.ENDPOINTS`, so a hot reload
rebuilds them with the new config.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from authgate.core.config import ProxyConfig
from authgate.core.contracts import DISCOVERY_PATH
from authgate.core.errors import AuthError, GatewayError, InvalidRequest
from authgate.core.paths import normalize_path

from .edge import EdgeRequest, EdgeResponse, error_answer
from .records import Outcome

if TYPE_CHECKING:  # pragma: no cover
    from .runtime import Runtime

__all__ = [
    "EDGE_PREFIX",
    "EdgeResult",
    "Endpoint",
    "EndpointFactory",
    "Handler",
    "Router",
    "discovery_endpoints",
    "serve_endpoint",
]

log = logging.getLogger("authgate.proxy.routes")

#: Every endpoint lives below this prefix (the platform's auth API group).
EDGE_PREFIX = "/apis/auth/"

Handler = Callable[[EdgeRequest, "Runtime"], Awaitable[EdgeResponse]]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One path the proxy serves itself."""

    path: str  # exact normalised path, under EDGE_PREFIX
    methods: frozenset[str]  # empty: any method (a gateway check carries the original's)
    handler: Handler
    #: Run ``Gate.decide`` first; a refusal is answered, ``request.principal`` is set.
    authenticate: bool = False
    #: Body bytes read for the handler; a longer body is answered 413.
    max_body_bytes: int = 0
    #: ``"exact"`` (the normalised path), ``"prefix"`` (the *raw* path starts
    #: with ``path + "/"``: Envoy ext_authz appends the original path, which
    #: must reach the handler untouched) or ``"fallback"`` (every target no
    #: other endpoint matches: a dedicated gateway proxies nothing).
    match: str = "exact"

    def __post_init__(self) -> None:
        if not self.path.startswith(EDGE_PREFIX):
            raise ValueError(f"endpoint {self.path!r} is not under {EDGE_PREFIX}")
        if self.match not in ("exact", "prefix", "fallback"):
            raise ValueError(f"endpoint {self.path!r}: unknown match {self.match!r}")


#: Builds the endpoints for one config (an empty iterable when disabled).
EndpointFactory = Callable[[ProxyConfig], Iterable[Endpoint]]


class Router:
    """Exact-path lookup of :class:`Endpoint` values."""

    __slots__ = ("_by_path", "_fallback", "_prefixes")

    def __init__(self, endpoints: Iterable[Endpoint]) -> None:
        by_path: dict[str, Endpoint] = {}
        prefixes: dict[str, Endpoint] = {}
        fallback: Endpoint | None = None
        for endpoint in endpoints:
            if endpoint.match == "fallback":
                if fallback is not None:
                    raise ValueError("two fallback endpoints")
                fallback = endpoint
                continue
            table = by_path if endpoint.match == "exact" else prefixes
            if endpoint.path in table:
                raise ValueError(f"two endpoints for {endpoint.path}")
            table[endpoint.path] = endpoint
        self._by_path = by_path
        self._prefixes = tuple((p + "/", e) for p, e in prefixes.items())
        self._fallback = fallback

    @classmethod
    def build(cls, config: ProxyConfig, factories: Iterable[EndpointFactory]) -> Router:
        return cls(endpoint for make in factories for endpoint in make(config))

    def __len__(self) -> int:
        return len(self._by_path) + len(self._prefixes) + (self._fallback is not None)

    def match(self, raw_target: str) -> Endpoint | None:
        """The endpoint for a request target, or ``None`` to proxy it.

        Cheap for the common case (called on every request): a plain target
        is one dict lookup; only targets with ``%`` are normalised here.
        """
        by_path = self._by_path
        if not by_path and not self._prefixes and self._fallback is None:
            return None
        raw_path = path = raw_target.partition("?")[0]
        for prefix, endpoint in self._prefixes:
            if raw_path.startswith(prefix):
                return endpoint
        if "%" in path:
            try:
                path = normalize_path(path)
            except InvalidRequest:
                return self._fallback  # None: the Gate refuses it with 400
        return by_path.get(path, self._fallback)

    @staticmethod
    def method_not_allowed(endpoint: Endpoint) -> EdgeResponse:
        """405 for a registered path asked with another method."""
        allow = ", ".join(sorted(endpoint.methods))
        return EdgeResponse.json(
            405,
            {
                "error": "invalid_request",
                "reason": "method_not_allowed",
                "description": "this endpoint does not accept that method",
            },
            (("Allow", allow), ("Cache-Control", "no-store")),
        )

    @staticmethod
    def body_too_large() -> EdgeResponse:
        """413 for a body over the endpoint's ``max_body_bytes`` (RFC 9110 §15.5.14)."""
        return EdgeResponse.json(
            413,
            {
                "error": "invalid_request",
                "reason": "request_too_large",
                "description": "the request body is too large",
            },
            (("Cache-Control", "no-store"),),
            close=True,
        )


@dataclass(frozen=True, slots=True)
class EdgeResult:
    """An endpoint's answer and what the engine records about it."""

    response: EdgeResponse
    outcome: str
    reason: str | None = None
    subject: str | None = None
    auth_seconds: float | None = None


#: Reads the request body, at most ``limit`` bytes; ``None`` when it is longer.
BodyReader = Callable[[int], Awaitable["bytes | None"]]

_INTERNAL = GatewayError("the proxy failed to handle the request", reason="internal_error")


async def serve_endpoint(
    endpoint: Endpoint,
    runtime: Runtime,
    request: EdgeRequest,
    read_body: BodyReader,
    clock: Callable[[], float],
) -> EdgeResult:
    """Everything between "this target is an endpoint" and the bytes: the
    method check, the Gate (when asked for), the bounded body, the handler.

    ``request`` comes without body and principal; ``read_body`` is called
    only once the request is allowed (so a refused client never uploads).
    """
    if endpoint.methods and request.method not in endpoint.methods:
        return EdgeResult(
            Router.method_not_allowed(endpoint), Outcome.REJECTED, "method_not_allowed"
        )
    principal = None
    extra: Sequence[tuple[str, str]] = ()
    auth_seconds = None
    if endpoint.authenticate:
        started = clock()
        try:
            decision = await runtime.gate.decide(
                request.method, request.raw_target, request.headers
            )
        except AuthError as exc:
            return EdgeResult(
                error_answer(exc), Outcome.DENIED, exc.reason, auth_seconds=clock() - started
            )
        auth_seconds = clock() - started
        principal, extra = decision.principal, decision.response_headers
    body = b""
    if endpoint.max_body_bytes or _declares_body(request):
        read = await read_body(endpoint.max_body_bytes)
        if read is None:
            return EdgeResult(Router.body_too_large(), Outcome.REJECTED, "request_too_large")
        body = read
    subject = principal.subject if principal is not None else None
    try:
        response = await endpoint.handler(replace(request, body=body, principal=principal), runtime)
    except AuthError as exc:
        return EdgeResult(error_answer(exc), Outcome.DENIED, exc.reason, subject, auth_seconds)
    except GatewayError as exc:
        return EdgeResult(
            error_answer(exc), Outcome.UPSTREAM_ERROR, exc.reason, subject, auth_seconds
        )
    except Exception as exc:  # a bug in an endpoint must not drop the connection
        log.error("endpoint failed", extra={"path": endpoint.path, "exc_type": type(exc).__name__})
        return EdgeResult(error_answer(_INTERNAL), Outcome.ERROR, "internal_error", subject)
    outcome = Outcome.PUBLIC if principal is None else Outcome.ALLOWED
    return EdgeResult(response.with_headers(extra), outcome, None, subject, auth_seconds)


def _declares_body(request: EdgeRequest) -> bool:
    for name, value in request.headers:
        lower = name.lower()
        if lower == "transfer-encoding" or (lower == "content-length" and value.strip() != "0"):
            return True
    return False


async def _discovery(request: EdgeRequest, runtime: Runtime) -> EdgeResponse:
    """``GET /apis/auth/discovery``: public; what CLIs read to log in."""
    return EdgeResponse.json(200, runtime.discovery(), (("Cache-Control", "no-cache"),))


def discovery_endpoints(config: ProxyConfig) -> Iterable[Endpoint]:
    """The discovery document (always on)."""
    yield Endpoint(DISCOVERY_PATH, frozenset({"GET", "HEAD"}), _discovery)

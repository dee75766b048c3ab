"""Typed keys for application and request state (aiohttp ``AppKey``/``RequestKey``).

Kept in one small module so every concern module (forwarding, websockets,
admin, access log) reads the same typed slots without importing each other.
"""

from __future__ import annotations

from weakref import WeakSet

import aiohttp
from aiohttp import web

from authgate.core.principal import Principal
from authgate.core.upstream import UpstreamTarget

from ..lifecycle import Lifecycle
from ..metrics import Metrics
from ..records import RequestObserver
from ..runtime import RuntimeHolder

__all__ = [
    "AUTH_SECONDS",
    "LIFECYCLE",
    "METRICS",
    "OBSERVER",
    "OUTCOME",
    "PATH",
    "PRINCIPAL",
    "REASON",
    "RECORDED",
    "RUNTIME",
    "UPSTREAM_SECONDS",
    "UPSTREAM_SESSION",
    "UPSTREAM_TARGET",
    "WEBSOCKETS",
]

RUNTIME = web.AppKey("runtime", RuntimeHolder)
METRICS = web.AppKey("metrics", Metrics)
LIFECYCLE = web.AppKey("lifecycle", Lifecycle)
OBSERVER = web.AppKey("observer", RequestObserver)
UPSTREAM_SESSION = web.AppKey("upstream_session", aiohttp.ClientSession)
UPSTREAM_TARGET = web.AppKey("upstream_target", UpstreamTarget)
WEBSOCKETS = web.AppKey("websockets", WeakSet[web.WebSocketResponse])

# Per-request facts the handler records for the metrics middleware and the access log.
PRINCIPAL = web.RequestKey("principal", Principal)
OUTCOME = web.RequestKey("outcome", str)
REASON = web.RequestKey("reason", str)
RECORDED = web.RequestKey("recorded", bool)  # the guard reported this request
PATH = web.RequestKey("path", str)  # the normalised path, once the Gate decided
AUTH_SECONDS = web.RequestKey("auth_seconds", float)
UPSTREAM_SECONDS = web.RequestKey("upstream_seconds", float)

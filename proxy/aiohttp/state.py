"""Typed keys for application and request state (aiohttp ``AppKey``/``RequestKey``).

Kept in one small module so every concern module (forwarding, websockets,
admin, access log) reads the same typed slots without importing each other.
"""

from __future__ import annotations

from weakref import WeakSet

import aiohttp
from aiohttp import web
from authgate.core.principal import Principal

from ..lifecycle import Lifecycle
from ..metrics import Metrics
from ..runtime import RuntimeHolder

__all__ = [
    "AUTH_SECONDS",
    "LIFECYCLE",
    "METRICS",
    "OUTCOME",
    "PRINCIPAL",
    "REASON",
    "RESPONSE_HEADERS",
    "RUNTIME",
    "UPSTREAM_SECONDS",
    "UPSTREAM_SESSION",
    "WEBSOCKETS",
]

RUNTIME = web.AppKey("runtime", RuntimeHolder)
METRICS = web.AppKey("metrics", Metrics)
LIFECYCLE = web.AppKey("lifecycle", Lifecycle)
UPSTREAM_SESSION = web.AppKey("upstream_session", aiohttp.ClientSession)
WEBSOCKETS = web.AppKey("websockets", WeakSet[web.WebSocketResponse])

# Per-request facts the handler records for the metrics middleware and the access log.
PRINCIPAL = web.RequestKey("principal", Principal)
OUTCOME = web.RequestKey("outcome", str)
REASON = web.RequestKey("reason", str)
AUTH_SECONDS = web.RequestKey("auth_seconds", float)
UPSTREAM_SECONDS = web.RequestKey("upstream_seconds", float)
#: Headers the gate adds to the response (a refreshed browser session cookie).
RESPONSE_HEADERS = web.RequestKey("response_headers", list)

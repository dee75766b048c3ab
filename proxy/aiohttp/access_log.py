"""The aiohttp engine's access logger: aiohttp's ``access_log_class`` over :func:`log_access`.

Kept apart from :mod:`authgate.proxy.accesslog` so that the lean engine's
process, which shares the JSON logging, never imports aiohttp.
"""

from __future__ import annotations

from aiohttp.abc import AbstractAccessLogger
from aiohttp.web import BaseRequest, StreamResponse

from ..accesslog import log_access
from .state import OUTCOME, PRINCIPAL, REASON

__all__ = ["JsonAccessLogger"]


class JsonAccessLogger(AbstractAccessLogger):
    """aiohttp ``access_log_class`` writing through :func:`log_access`."""

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        principal = request.get(PRINCIPAL)
        log_access(
            method=request.method,
            path=request.path,  # path only: the query may carry access_token
            status=response.status,
            duration=time,
            outcome=request.get(OUTCOME, "unknown"),
            principal=principal.subject if principal is not None else None,
            peer=request.remote,
            reason=request.get(REASON),
        )

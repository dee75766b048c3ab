"""What happened to one request, reported the same way by both engines.

Each engine fills one :class:`RequestRecord` per finished request and hands
it to one :class:`RequestObserver`, which feeds the Prometheus series and the
JSON access log.  Before, the aiohttp engine counted in a middleware and
logged from an aiohttp access-logger class while the lean engine reported a
record of its own; two code paths for the same figures drift.  The record
never holds the token, the query string or any header value.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from .accesslog import log_access
from .metrics import Metrics

__all__ = ["Outcome", "RequestObserver", "RequestRecord", "metrics_outcome"]


class Outcome(StrEnum):
    """How a request ended (the ``outcome`` label of ``authgate_requests``)."""

    ALLOWED = "allowed"  # authenticated and forwarded
    PUBLIC = "public"  # public path or an /apis/auth/ endpoint: no principal needed
    DENIED = "denied"  # an AuthError (400/401/403)
    SHED = "shed"  # over limits.max_in_flight: 503
    REJECTED = "rejected"  # not valid HTTP, or over a size limit (400/413/431)
    UPSTREAM_ERROR = "upstream_error"  # 5xx: the upstream failed, or we did
    CLIENT_CLOSED = "client_closed"  # the client went away first (499)
    ERROR = "error"  # a failure before any outcome was known


#: nginx's convention for "the client closed the connection before the answer".
STATUS_CLIENT_CLOSED = 499


def metrics_outcome(outcome: str, status: int) -> str:
    """A forwarded request that ended in a 5xx counts as ``upstream_error``."""
    if status >= 500 and outcome not in (Outcome.CLIENT_CLOSED, Outcome.SHED):
        return Outcome.UPSTREAM_ERROR
    return outcome


@dataclass(slots=True)
class RequestRecord:
    """One finished request, for metrics and the access log (never the token).

    Not frozen on purpose: a frozen dataclass sets each field through
    ``object.__setattr__``, which is measurable at tens of thousands per second.
    """

    method: str
    path: str  # the normalised path when known, else the raw path without the query
    status: int
    outcome: str  # an Outcome value
    reason: str | None
    principal: str | None  # the principal's subject
    auth_seconds: float | None
    upstream_seconds: float | None
    duration_seconds: float
    peer: str

    @classmethod
    def refused(cls, status: int, reason: str | None, peer: str, method: str = "") -> RequestRecord:
        """A request the engine refused before it had a target (the HTTP parser's
        refusals): no path, principal or timings.  One constructor, so both engines
        report these alike; a 5xx here is our failure (``error``), not a rejection."""
        return cls(
            method=method,
            path="",  # the target did not parse; nothing of it is logged
            status=status,
            outcome=Outcome.REJECTED if status < 500 else Outcome.ERROR,
            reason=reason,
            principal=None,
            auth_seconds=None,
            upstream_seconds=None,
            duration_seconds=0.0,
            peer=peer,
        )


class RequestObserver:
    """The one sink for finished requests: metrics series and access log."""

    __slots__ = ("metrics",)

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def __call__(self, record: RequestRecord) -> None:
        self.metrics.observe_request(
            outcome=metrics_outcome(record.outcome, record.status),
            status=record.status,
            reason=record.reason,
            auth_seconds=record.auth_seconds,
            upstream_seconds=record.upstream_seconds,
        )
        log_access(
            method=record.method,
            path=record.path,
            status=record.status,
            duration=record.duration_seconds,
            outcome=record.outcome,
            principal=record.principal,
            peer=record.peer,
            reason=record.reason,
        )

"""Prometheus metrics of the proxy, in a registry of their own.

A private :class:`~prometheus_client.CollectorRegistry` (not the global one)
keeps the exposition limited to authgate's series and lets tests build many
proxies in one process.  Request/auth series are recorded by the data path as
requests finish — by the aiohttp middleware, or from the lean path's
``RequestRecord`` hook — so both engines report the same names.  Key-cache
figures (JWKS fetches, failures, key count, token-cache hits) are owned by the
core's ``KeyCache``/``TokenVerifier`` counters; a custom collector reads them
at scrape time instead of mirroring them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

__all__ = ["CONTENT_TYPE", "KeyStats", "Metrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Auth checks are microseconds when cached, milliseconds when a signature is
# verified; upstream latency spans the usual web range.
_AUTH_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0)
_UPSTREAM_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class KeyStats(Protocol):
    """What the collector needs from the live key caches and verifier."""

    def key_stats(self) -> tuple[int, int, int, int]:
        """``(fetches, fetch_failures, key_count, token_cache_hits)``."""


class _KeyCollector(Collector):
    def __init__(self, source: Callable[[], KeyStats | None]) -> None:
        self._source = source

    def collect(self) -> Iterator[Any]:
        stats = self._source()
        fetches, failures, keys, hits = stats.key_stats() if stats is not None else (0, 0, 0, 0)
        yield CounterMetricFamily(
            "authgate_jwks_fetches", "JWKS and discovery fetches by the key cache", value=fetches
        )
        yield CounterMetricFamily(
            "authgate_jwks_fetch_failures", "failed JWKS or discovery fetches", value=failures
        )
        yield GaugeMetricFamily("authgate_jwks_keys", "signing keys currently cached", value=keys)
        yield CounterMetricFamily(
            "authgate_token_cache_hits", "requests served from the verified-token cache", value=hits
        )

    def describe(self) -> Iterable[Any]:
        return []


class Metrics:
    """Every series the proxy exports; one instance per process."""

    def __init__(self, key_source: Callable[[], KeyStats | None] | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "authgate_requests",
            "finished requests by outcome and status",
            ["outcome", "status"],
            registry=r,
        )
        self.auth_failures = Counter(
            "authgate_auth_failures", "rejected requests by reason", ["reason"], registry=r
        )
        self.auth_seconds = Histogram(
            "authgate_auth_check_seconds",
            "time spent in the auth decision",
            buckets=_AUTH_BUCKETS,
            registry=r,
        )
        self.upstream_seconds = Histogram(
            "authgate_upstream_seconds",
            "time until the upstream's response headers",
            buckets=_UPSTREAM_BUCKETS,
            registry=r,
        )
        self.in_flight = Gauge(
            "authgate_in_flight_requests", "requests (and websockets) being served", registry=r
        )
        self.config_reloads = Counter(
            "authgate_config_reloads", "config file reloads by result", ["result"], registry=r
        )
        if key_source is not None:
            r.register(_KeyCollector(key_source))

    def observe_request(
        self,
        *,
        outcome: str,
        status: int,
        reason: str | None = None,
        auth_seconds: float | None = None,
        upstream_seconds: float | None = None,
    ) -> None:
        """Record one finished request (both engines call this)."""
        self.requests.labels(outcome=outcome, status=str(status)).inc()
        if reason is not None and outcome == "denied":
            self.auth_failures.labels(reason=reason).inc()
        if auth_seconds is not None:
            self.auth_seconds.observe(auth_seconds)
        if upstream_seconds is not None:
            self.upstream_seconds.observe(upstream_seconds)

    def exposition(self) -> bytes:
        """The text exposition format (``/metrics``)."""
        return generate_latest(self.registry)

"""Prometheus metrics of the operator (``/metrics`` on the discovery port).

Names follow the Prometheus conventions (``authgate_operator_…_total`` for
counters, ``_seconds`` for durations); a private registry keeps them apart from
anything else that may run in the process (tests start several operators).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["OperatorMetrics"]


@dataclass
class OperatorMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.reconciles = Counter(
            "authgate_operator_reconciles_total",
            "OIDCProvider reconciles by outcome (ready, not_ready)",
            ["result"],
            registry=r,
        )
        self.idp_check_seconds = Histogram(
            "authgate_operator_idp_check_seconds",
            "Duration of one IdP check (discovery + JWKS)",
            registry=r,
        )
        self.providers = Gauge(
            "authgate_operator_providers",
            "OIDCProviders in the discovery index by readiness",
            ["ready"],
            registry=r,
        )
        self.discovery_requests = Counter(
            "authgate_operator_discovery_requests_total",
            "Discovery requests by outcome (ok, disabled, not_found, ambiguous)",
            ["result"],
            registry=r,
        )
        self.admissions = Counter(
            "authgate_operator_admissions_total",
            "Pod admissions by outcome (injected, skipped, refused, warned)",
            ["result"],
            registry=r,
        )
        self.index_refresh_failures = Counter(
            "authgate_operator_index_refresh_failures_total",
            "Failed re-lists of OIDCProviders for the discovery index",
            registry=r,
        )

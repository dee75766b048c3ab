"""What one benchmark run is asked to do (:class:`Plan`) and what it measures of each
contender (:class:`Figures`, medians over the repeats in :meth:`Figures.summary`)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from typing import Any

from .load import LatencyResult, median

__all__ = ["Figures", "Plan", "image_size"]


@dataclass(frozen=True)
class Plan:
    seconds: float = 5.0
    repeats: int = 3
    workers: int = 2
    unique_tokens: int = 30000
    latency: bool = True
    websocket: bool = True
    large: bool = True
    smoke: bool = False
    only: tuple[str, ...] = ()
    #: The mixed run after which memory is read again (issue 16: 60 s).
    mixed_seconds: float = 60.0
    #: The image whose size is reported (``docker image inspect``), if any.
    image: str | None = None


@dataclass
class Figures:
    name: str
    rps: list[float] = field(default_factory=list)
    unique_rps: list[float] = field(default_factory=list)
    large_rps: list[float] = field(default_factory=list)
    cpu_per_10k: list[float] = field(default_factory=list)
    errors: int = 0
    latency: dict[str, list[LatencyResult]] = field(default_factory=dict)
    ws: list[float] = field(default_factory=list)
    rss_bytes: int = 0
    anon_bytes: int = 0
    idle_rss_bytes: int = 0
    processes: int = 0
    idle_pss_bytes: int = 0
    pss_bytes: int = 0
    unique_rss_bytes: int | None = None
    unique_pss_bytes: int | None = None
    mixed_rps: float | None = None
    start_seconds: float | None = None

    def summary(self) -> dict[str, Any]:
        lat = {}
        for key, runs in self.latency.items():
            lat[key] = {
                "rate": runs[0].rate,
                "achieved_rps": median([r.achieved_rps for r in runs]),
                "p50_ms": median([r.p50_ms for r in runs]),
                "p99_ms": median([r.p99_ms for r in runs]),
                "p999_ms": median([r.p999_ms for r in runs]),
                "errors": sum(r.errors for r in runs),
            }
        return {
            "rps": median(self.rps),
            "unique_rps": median(self.unique_rps) if self.unique_rps else None,
            "large_rps": median(self.large_rps) if self.large_rps else None,
            "cpu_seconds_per_10k": median(self.cpu_per_10k) if self.cpu_per_10k else None,
            "rss_mib": self.rss_bytes / 2**20,
            "anon_mib": self.anon_bytes / 2**20,
            "idle_rss_mib": self.idle_rss_bytes / 2**20,
            "processes": self.processes,
            # Cost per pod (issue 16): PSS divides shared pages among the tree's processes.
            "pss_mib": self.pss_bytes / 2**20,
            "idle_pss_mib": self.idle_pss_bytes / 2**20,
            "unique_rss_mib": _mib(self.unique_rss_bytes),
            "unique_pss_mib": _mib(self.unique_pss_bytes),
            "mixed_rps": self.mixed_rps,
            "start_seconds": self.start_seconds,
            # vCPU busy at 1,000 req/s = CPU seconds per request x 1,000.
            "vcpu_per_1k_rps": (median(self.cpu_per_10k) / 10 if self.cpu_per_10k else None),
            "ws_msgs_per_s": median(self.ws) if self.ws else None,
            "errors": self.errors,
            "latency": lat,
            "runs": {
                "rps": self.rps,
                "unique_rps": self.unique_rps,
                "large_rps": self.large_rps,
                "ws": self.ws,
            },
        }


def image_size(tag: str | None) -> dict[str, Any] | None:
    """``docker image inspect``'s size of ``tag`` (the engine ``DOCKER_HOST`` names)."""
    if not tag:
        return None
    try:
        out = subprocess.run(
            ["docker", "image", "inspect", "--format", "{{.Size}}", tag],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return {"tag": tag, "mib": None, "error": "docker not available"}
    if out.returncode != 0:
        return {"tag": tag, "mib": None, "error": out.stderr.strip()[-200:]}
    return {"tag": tag, "mib": int(out.stdout.strip()) / 2**20}


def _mib(value: int | None) -> float | None:
    return None if value is None else value / 2**20

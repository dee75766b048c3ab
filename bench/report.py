"""The benchmark's output: markdown tables and JSON, every figure with its ratio to oauth2-proxy.

Ratios are oriented so that **> 1.0 is better than oauth2-proxy** for
throughput figures (req/s, messages/s) and **< 1.0 is better** for costs
(latency added, CPU per request, memory) — the same orientation as the
targets in issue 7.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["cost_markdown", "markdown", "targets"]

#: Quoted, not measured here: Istio 1.24's performance page gives about 0.20
#: vCPU and 60 MB per Envoy sidecar at 1,000 requests per second.
ISTIO_VCPU_PER_1K = 0.20
ISTIO_SIDECAR_MB = 60


def _ratio(value: float | None, ref: float | None) -> float | None:
    if value is None or ref is None or ref == 0:
        return None
    return value / ref


def _fmt(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def _r(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def added_latency(result: dict[str, Any], name: str, load: str, pct: str) -> float | None:
    direct = result["contenders"].get("direct", {}).get("latency", {}).get(load)
    mine = result["contenders"][name].get("latency", {}).get(load)
    if direct is None or mine is None:
        return None
    return float(mine[pct]) - float(direct[pct])


def markdown(result: dict[str, Any]) -> str:
    contenders: dict[str, dict[str, Any]] = result["contenders"]
    ref_name = result.get("reference")
    ref = contenders.get(ref_name) if ref_name else None

    def ref_of(key: str) -> float | None:
        return None if ref is None else ref.get(key)

    lines = [
        "| contender | req/s 1 KiB | x o2p | unique-token req/s | x o2p | req/s 1 MiB | x o2p "
        "| CPU s / 10k req | x o2p | RSS MiB | x o2p | anon MiB | idle RSS MiB "
        "| WS msg/s | x o2p |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, fig in contenders.items():
        row = [name]
        for key, digits in (
            ("rps", 0),
            ("unique_rps", 0),
            ("large_rps", 0),
            ("cpu_seconds_per_10k", 2),
            ("rss_mib", 1),
            ("ws_msgs_per_s", 0),
        ):
            value = fig.get(key)
            row += [_fmt(value, digits), _r(_ratio(value, ref_of(key)))]
            if key == "rss_mib":
                row.append(_fmt(fig.get("anon_mib"), 1))
                row.append(_fmt(fig.get("idle_rss_mib"), 1))
        lines.append("| " + " | ".join(row) + " |")
    loads = list(next(iter(contenders.values())).get("latency", {}).keys())
    if loads:
        lines += [
            "",
            "Latency added over direct (ms), at fixed rates that are fractions of "
            "oauth2-proxy's maximum (rates: " + ", ".join(f"{r}/s" for r in result["rates"]) + "):",
            "",
            "| contender | load | p50 | p99 | p99.9 | p99 x o2p |",
            "|---|---|---:|---:|---:|---:|",
        ]
        for name in contenders:
            if name == "direct":
                continue
            for load in loads:
                p50 = added_latency(result, name, load, "p50_ms")
                p99 = added_latency(result, name, load, "p99_ms")
                p999 = added_latency(result, name, load, "p999_ms")
                ref99 = added_latency(result, ref_name, load, "p99_ms") if ref_name else None
                ratio = _ratio(p99, ref99) if ref99 and ref99 > 0 else None
                cells = [name, load, _fmt(p50, 2), _fmt(p99, 2), _fmt(p999, 2), _r(ratio)]
                lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def cost_markdown(result: dict[str, Any]) -> str:
    """Issue 16's cost per pod: memory at three moments, CPU per 1,000 req/s, start time."""
    contenders: dict[str, dict[str, Any]] = result["contenders"]
    ref_name = result.get("reference")
    ref = contenders.get(ref_name) if ref_name else None

    def ratio(fig: dict[str, Any], key: str) -> str:
        return _r(_ratio(fig.get(key), None if ref is None else ref.get(key)))

    lines = [
        "Cost per pod (memory summed over the contender's process tree; PSS shares "
        "pages among its processes; `after unique` = after the unique-token runs, "
        "token cache full; `after mixed` = after every run, the 60 s mixed run last):",
        "",
        "| contender | start-to-ready s | RSS idle | x o2p | PSS idle | RSS after unique | x o2p "
        "| PSS after unique | RSS after mixed | PSS after mixed | x o2p | mixed req/s "
        "| vCPU per 1k req/s | processes |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, fig in contenders.items():
        cells = [
            name,
            _fmt(fig.get("start_seconds"), 2),
            _fmt(fig.get("idle_rss_mib"), 1),
            ratio(fig, "idle_rss_mib"),
            _fmt(fig.get("idle_pss_mib"), 1),
            _fmt(fig.get("unique_rss_mib"), 1),
            ratio(fig, "unique_rss_mib"),
            _fmt(fig.get("unique_pss_mib"), 1),
            _fmt(fig.get("rss_mib"), 1),
            _fmt(fig.get("pss_mib"), 1),
            ratio(fig, "pss_mib"),
            _fmt(fig.get("mixed_rps"), 0),
            _fmt(fig.get("vcpu_per_1k_rps"), 3),
            str(fig.get("processes", "-")),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append(
        f"| Istio Envoy sidecar (quoted, 1.24 docs) | - | ~{ISTIO_SIDECAR_MB} MB | - | - | - | - "
        f"| - | - | - | - | - | {ISTIO_VCPU_PER_1K:.2f} | 1 |"
    )
    image = result.get("image")
    if image:
        size = image.get("mib")
        shown = f"{size:.1f} MiB" if size is not None else f"unknown ({image.get('error')})"
        lines += ["", f"Image `{image['tag']}`: {shown} (`docker image inspect`)."]
    return "\n".join(lines) + "\n"


def targets(
    result: dict[str, Any], workers: int
) -> list[tuple[str, float | None, str, bool | None]]:
    """Issue 7's targets: (name, reached ratio, goal, met?)."""
    ref_name = result.get("reference")
    c = result["contenders"]
    if not ref_name or ref_name not in c:
        return []
    ref = c[ref_name]
    lean_n = c.get(f"authgate-lean-x{workers}", {})
    lean_1 = c.get("authgate-lean", {})
    out: list[tuple[str, float | None, str, bool | None]] = []

    def add(name: str, value: float | None, goal: str, ok: Callable[[float], bool]) -> None:
        out.append((name, value, goal, None if value is None else ok(value)))

    add(
        f"throughput (lean x{workers} / o2p)",
        _ratio(lean_n.get("rps"), ref.get("rps")),
        ">= 1.0",
        lambda v: v >= 1.0,
    )
    add(
        "throughput (lean x1 / o2p)",
        _ratio(lean_1.get("rps"), ref.get("rps")),
        ">= 1.0",
        lambda v: v >= 1.0,
    )
    p99_lean = added_latency(result, "authgate-lean", "50%", "p99_ms")
    p99_ref = added_latency(result, ref_name, "50%", "p99_ms")
    ratio = _ratio(p99_lean, p99_ref) if p99_ref and p99_ref > 0 else None
    add("p99 added latency at 50% load (lean x1 / o2p)", ratio, "<= 1.0", lambda v: v <= 1.0)
    add(
        f"unique-token throughput (lean x{workers} / o2p)",
        _ratio(lean_n.get("unique_rps"), ref.get("unique_rps")),
        ">= 0.7",
        lambda v: v >= 0.7,
    )
    add(
        "memory per sidecar (lean x1 RSS / o2p)",
        _ratio(lean_1.get("rss_mib"), ref.get("rss_mib")),
        "<= 1.5",
        lambda v: v <= 1.5,
    )
    # Issue 16: the sidecar's cost per pod.
    add(
        "idle RSS (lean x1 / o2p)",
        _ratio(lean_1.get("idle_rss_mib"), ref.get("idle_rss_mib")),
        "<= 1.3",
        lambda v: v <= 1.3,
    )
    add(
        "RSS after the unique-token run (lean x1 / o2p)",
        _ratio(lean_1.get("unique_rss_mib"), ref.get("unique_rss_mib")),
        "<= 1.3",
        lambda v: v <= 1.3,
    )
    return out


def absolute_targets(result: dict[str, Any]) -> list[tuple[str, float | None, str, bool | None]]:
    """Issue 16's targets that are not ratios: start-to-ready and image size."""
    lean_1 = result["contenders"].get("authgate-lean", {})
    start = lean_1.get("start_seconds")
    image = (result.get("image") or {}).get("mib")
    return [
        ("start-to-ready, lean x1 (s)", start, "<= 1.0", None if start is None else start <= 1.0),
        ("image size (MiB)", image, "<= 150", None if image is None else image <= 150),
    ]


def targets_markdown(
    rows: list[tuple[str, float | None, str, bool | None]],
    absolute: list[tuple[str, float | None, str, bool | None]] | None = None,
) -> str:
    if not rows and not absolute:
        return "(no oauth2-proxy in this run: no ratios)\n"
    lines = ["| target | reached | goal | met |", "|---|---:|---|---|"]
    for name, value, goal, ok in rows:
        lines.append(
            f"| {name} | {_r(value)} | {goal} | {'-' if ok is None else ('yes' if ok else 'no')} |"
        )
    for name, value, goal, ok in absolute or []:
        shown = _fmt(value, 2)
        lines.append(
            f"| {name} | {shown} | {goal} | {'-' if ok is None else ('yes' if ok else 'no')} |"
        )
    return "\n".join(lines) + "\n"

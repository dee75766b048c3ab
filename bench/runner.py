"""One benchmark run: start every contender, measure each figure, collect results.

Measurements are interleaved — repeat 1 of every contender, then repeat 2,
and so on — so drift in the shared machine's load spreads over all
contenders instead of penalising whichever ran last.  Each figure is the
median of its repeats.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import contenders as c
from .figures import Figures, Plan, image_size
from .gateway import GATEWAY_CONTENDER, start_gateway_contenders
from .load import fixed_rate, median, saturate, websocket_rate, write_lua
from .tokens import load_keys, mint_tokens

__all__ = ["Plan", "image_size", "run"]

REFERENCE = "oauth2-proxy"
LOAD_FRACTIONS = (0.25, 0.5, 0.75)
IDP_PORT = 18931  # fixed when free, so cached tokens (whose iss names it) stay valid


def _log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def _start_stack(plan: Plan, workdir: Path, tools: dict[str, str | None], stack: c.Stack) -> str:
    """Start every service into ``stack`` (stopped by the caller, even on failure)."""
    keys = load_keys()
    jwks = workdir / "jwks.json"
    jwks.write_text(json.dumps(keys.jwks))
    idp_port = IDP_PORT if c.port_free(IDP_PORT) else c.free_port()
    stack.add(
        c.Service(
            "idp",
            [sys.executable, "-m", "bench.idp", "--port", str(idp_port), "--jwks", str(jwks)],
            idp_port,
            workdir,
            ready_path="/.well-known/openid-configuration",
        )
    )
    issuer = f"http://127.0.0.1:{idp_port}"
    ws_port = c.free_port()
    ws = c.Service(
        "wsecho",
        [sys.executable, "-m", "bench.wsecho", "--port", str(ws_port)],
        ws_port,
        workdir,
        ready_path="/ws",
    )
    stack.services["wsecho"] = ws
    _start_ws(ws)
    nginx = tools["nginx"]
    assert nginx is not None
    up_port = c.free_port()
    stack.add(c.nginx_upstream(workdir, nginx, up_port, ws_port))
    wanted = _wanted(plan, tools)
    if "nginx" in wanted:
        stack.add(c.nginx_passthrough(workdir, nginx, c.free_port(), up_port))
    if GATEWAY_CONTENDER in wanted:
        start_gateway_contenders(stack, workdir, nginx, up_port, issuer)
    for name, engine, workers in _authgate_contenders(plan):
        if name in wanted:
            stack.add(
                c.authgate(
                    workdir,
                    name,
                    engine=engine,
                    workers=workers,
                    port=c.free_port(),
                    upstream_port=up_port,
                    issuer=issuer,
                )
            )
    if REFERENCE in wanted:
        binary = tools["oauth2-proxy"]
        assert binary is not None
        stack.add(
            c.oauth2_proxy(
                workdir, binary, port=c.free_port(), upstream_port=up_port, issuer=issuer
            )
        )
    return issuer


def _start_ws(service: c.Service) -> None:
    # The echo answers only upgrades; readiness is "the port accepts".
    with service.log_path.open("wb") as log:
        service.proc = subprocess.Popen(
            service.argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", service.port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise c.BenchError(f"wsecho did not start:\n{service.log()}")


def _authgate_contenders(plan: Plan) -> list[tuple[str, str, int]]:
    """``(name, engine, workers)`` of every authgate contender."""
    return [
        ("authgate-aiohttp", "aiohttp", 1),
        ("authgate-lean", "lean", 1),
        (f"authgate-lean-x{plan.workers}", "lean", plan.workers),
    ]


def _wanted(plan: Plan, tools: dict[str, str | None]) -> list[str]:
    # The order is the table's; a new contender adds its name here and its
    # start in _start_stack.
    names = [
        "direct",
        "nginx",
        GATEWAY_CONTENDER,
        *(name for name, _, _ in _authgate_contenders(plan)),
        REFERENCE,
    ]
    if tools.get("oauth2-proxy") is None:
        names.remove(REFERENCE)
    if plan.only:
        names = [n for n in names if n in plan.only or n == "direct"]
    return names


def _port(stack: c.Stack, name: str) -> int:
    return stack.services["upstream" if name == "direct" else name].port


def _pid(stack: c.Stack, name: str) -> int:
    return stack.services["upstream" if name == "direct" else name].pid


def run(plan: Plan, tools: dict[str, str | None], workdir: Path | None = None) -> dict[str, Any]:
    """Run every measurement; returns the JSON-able result document."""
    own = workdir is None
    workdir = workdir or Path(tempfile.mkdtemp(prefix="authgate-bench-"))
    wrk = tools["wrk"]
    assert wrk is not None
    _log(f"work directory {workdir}")
    stack = c.Stack()
    try:
        issuer = _start_stack(plan, workdir, tools, stack)
        return _measure(plan, tools, workdir, stack, issuer, wrk)
    finally:
        stack.stop()
        if own and not plan.smoke:
            _log(f"logs kept in {workdir}")


def _measure(
    plan: Plan, tools: dict[str, str | None], workdir: Path, stack: c.Stack, issuer: str, wrk: str
) -> dict[str, Any]:
    names = _wanted(plan, tools)
    keys = load_keys()
    _log(f"minting/loading {plan.unique_tokens} RS256 tokens")
    token_file = mint_tokens(keys, issuer, plan.unique_tokens)
    token = token_file.open().readline().strip()
    single = workdir / "token.txt"
    single.write_text(token + "\n")
    lua = write_lua(workdir)
    figures = {n: Figures(n) for n in names}
    secs = plan.seconds
    for name in names:  # memory before any load: interpreter/binary + libraries + config
        service = stack.services["upstream" if name == "direct" else name]
        idle = service.stats()
        figures[name].idle_rss_bytes = idle.rss_bytes
        figures[name].idle_pss_bytes = idle.pss_bytes
        figures[name].start_seconds = service.start_seconds

    def url(name: str, path: str) -> str:
        return f"http://127.0.0.1:{_port(stack, name)}{path}"

    # Sanity: every contender answers 200 with the token and (proxies) 401 without.
    for name in names:
        status = c.http_status(_port(stack, name), "/small", {"Authorization": f"Bearer {token}"})
        if status != 200:
            raise c.BenchError(f"{name} answered {status} to an authenticated request")
        if name.startswith("authgate") or name == REFERENCE:
            denied = c.http_status(_port(stack, name), "/small")
            if denied == 200:
                raise c.BenchError(f"{name} served a request without a token")

    def rounds(label: str, fn: Callable[[str], None], subset: list[str]) -> None:
        for r in range(plan.repeats):
            for name in subset:
                _log(f"{label} {name} run {r + 1}/{plan.repeats}")
                fn(name)

    def small(name: str) -> None:
        before = stack_cpu(name)
        res = saturate(wrk, url(name, "/small"), lua=lua, tokens=single, seconds=secs)
        after = stack_cpu(name)
        fig = figures[name]
        fig.rps.append(res.rps)
        fig.errors += res.errors
        if res.requests:
            fig.cpu_per_10k.append((after - before) / res.requests * 10000)

    def stack_cpu(name: str) -> float:
        return stack.services["upstream" if name == "direct" else name].stats().cpu_seconds

    rounds("saturation 1KiB", small, names)

    auth_names = [n for n in names if n.startswith("authgate") or n == REFERENCE]

    def unique(name: str) -> None:
        res = saturate(
            wrk, url(name, "/small"), lua=lua, tokens=token_file, unique=True, seconds=secs
        )
        figures[name].unique_rps.append(res.rps)
        figures[name].errors += res.errors

    rounds("unique tokens", unique, auth_names)
    for name in auth_names:  # a full token cache: what the cache budget costs
        after = stack.services[name].stats()
        figures[name].unique_rss_bytes = after.rss_bytes
        figures[name].unique_pss_bytes = after.pss_bytes

    if plan.large:

        def large(name: str) -> None:
            res = saturate(
                wrk, url(name, "/large"), lua=lua, tokens=single, seconds=secs, connections=8
            )
            figures[name].large_rps.append(res.rps)
            figures[name].errors += res.errors

        rounds("1MiB bodies", large, names)

    rates: list[float] = []
    if plan.latency:
        ref = figures.get(REFERENCE)
        base = median(ref.rps) if ref is not None and ref.rps else median(figures[names[-1]].rps)
        fractions = LOAD_FRACTIONS[1:2] if plan.smoke else LOAD_FRACTIONS
        rates = [round(base * f) for f in fractions]
        for fraction, rate in zip(fractions, rates, strict=True):
            key = f"{int(fraction * 100)}%"

            def at_rate(name: str, rate: float = rate, key: str = key) -> None:
                res = fixed_rate(
                    tools.get("oha"), url(name, "/small"), token=token, rate=rate, seconds=secs
                )
                figures[name].latency.setdefault(key, []).append(res)

            rounds(f"fixed rate {key} ({rate}/s)", at_rate, names)

    if plan.websocket:

        def ws(name: str) -> None:
            ws_url = url(name, "/ws").replace("http://", "ws://")
            figures[name].ws.append(websocket_rate(ws_url, token=token, seconds=secs))

        rounds("websocket", ws, names)

    if plan.mixed_seconds > 0:
        # One long run per contender (not repeated): 90 % one token, 10 % fresh
        # ones, so the token cache churns the way a busy pod's does.
        for name in names:
            _log(f"mixed {plan.mixed_seconds:.0f}s {name}")
            res = saturate(
                wrk,
                url(name, "/small"),
                lua=lua,
                tokens=token_file,
                mixed=True,
                seconds=plan.mixed_seconds,
            )
            figures[name].mixed_rps = res.rps
            figures[name].errors += res.errors

    for name in names:  # after every run (the mixed one last): memory as the pod runs
        stats = stack.services["upstream" if name == "direct" else name].stats()
        fig = figures[name]
        fig.rss_bytes, fig.anon_bytes, fig.processes = (
            stats.rss_bytes,
            stats.anon_bytes,
            stats.processes,
        )
        fig.pss_bytes = stats.pss_bytes

    idp_hits: Any = None
    try:
        conn = http.client.HTTPConnection("127.0.0.1", stack.services["idp"].port, timeout=2)
        conn.request("GET", "/stats")
        idp_hits = json.loads(conn.getresponse().read())
        conn.close()
    except (OSError, ValueError):
        pass
    return {
        "plan": plan.__dict__ | {"only": list(plan.only)},
        "idp_requests": idp_hits,  # discovery/JWKS fetches of all contenders together
        "machine": {"cpus": os.cpu_count(), "load_avg": os.getloadavg()},
        "tools": tools,
        "reference": REFERENCE if REFERENCE in names else None,
        "rates": rates,
        "image": image_size(plan.image),
        "contenders": {n: figures[n].summary() for n in names},
    }

"""Running the proxy: listeners, engine choice, reload, drain, workers.

:func:`serve` is one proxy process: the admin listener first (so liveness
answers while keys load), then the client listener on the configured engine
— the lean engine (:mod:`authgate.proxy.lean`, also for ``auto``) or the
aiohttp engine (:mod:`authgate.proxy.aiohttp.app`) — then the config
watcher.  It returns after a SIGTERM/SIGINT drain (see :mod:`authgate.proxy.lifecycle`).

:func:`run` adds process management: uvloop when available, and for
``server.workers > 1`` that many worker processes binding the same port with
``SO_REUSEPORT`` so the kernel spreads connections across them.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from authgate.core.config import ProxyConfig, load_config

from .accesslog import install_aiohttp_redaction, setup_logging
from .admin import build_admin_app
from .aiohttp.app import build_app
from .aiohttp.safe_handler import ProxyAppRunner
from .lifecycle import Lifecycle
from .metrics import Metrics
from .records import RequestObserver
from .reload import ConfigWatcher, reload_config
from .runtime import RuntimeHolder, build_runtime

__all__ = ["Listening", "choose_engine", "run", "run_coroutine", "serve"]

log = logging.getLogger("authgate.proxy")


@dataclass(frozen=True)
class Listening:
    """Where a started proxy actually listens (ports resolved when 0)."""

    host: str
    port: int
    admin_host: str
    admin_port: int
    engine: str


def choose_engine(config: ProxyConfig) -> str:
    """``aiohttp`` when asked for; otherwise (``lean`` or ``auto``) the lean engine.
    httptools is a hard dependency, so there is nothing to fall back from."""
    return "aiohttp" if config.server.engine == "aiohttp" else "lean"


def _bound_port(addresses: list[Any], fallback: int) -> int:
    for address in addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return int(address[1])
    return fallback


async def _start_aiohttp(
    config: ProxyConfig, holder: RuntimeHolder, metrics: Metrics, lifecycle: Lifecycle
) -> tuple[int, Callable[[], Awaitable[None]]]:
    limits = config.limits
    install_aiohttp_redaction()
    # ProxyAppRunner: aiohttp's own error answers (parse errors) never echo the request.
    runner = ProxyAppRunner(
        build_app(holder, metrics, lifecycle),
        handler_cancellation=True,  # a client that goes away cancels the upstream request
        access_log=None,  # the app's guard reports every request (records.RequestObserver)
        max_line_size=limits.max_header_bytes,
        max_field_size=limits.max_header_bytes,
        shutdown_timeout=limits.drain_timeout_seconds,
    )
    await runner.setup()
    site = web.TCPSite(
        runner,
        config.listen.host,
        config.listen.port,
        reuse_port=config.server.workers > 1,
        backlog=1024,
    )
    try:
        await site.start()
    except OSError:
        await runner.cleanup()
        raise
    return _bound_port(runner.addresses, config.listen.port), runner.cleanup


async def _start_lean(
    config: ProxyConfig, holder: RuntimeHolder, metrics: Metrics
) -> tuple[int, Callable[[], Awaitable[None]]]:
    from .lean.server import serve_lean  # httptools/uvloop only for this engine

    server = await serve_lean(config, lambda: holder.current, on_request=RequestObserver(metrics))
    # The lean server counts its own in-flight requests (websockets included).
    metrics.in_flight.set_function(lambda: float(server.in_flight))

    async def stop() -> None:
        await server.drain(config.limits.drain_timeout_seconds)
        server.close()
        await server.wait_closed()

    return int(server.port), stop


async def serve(
    config: ProxyConfig,
    *,
    config_path: str | None = None,
    env: Mapping[str, str] | None = None,
    on_listening: Callable[[Listening], None] | None = None,
    install_signals: bool = True,
    lifecycle: Lifecycle | None = None,
) -> None:
    """Run one proxy process until SIGTERM/SIGINT, then drain and return."""
    lifecycle = lifecycle or Lifecycle()
    holder = RuntimeHolder(await build_runtime(config, start_keys=False))
    metrics = Metrics(key_source=lambda: holder)
    if install_signals:
        lifecycle.install_signal_handlers()

    admin_runner = web.AppRunner(build_admin_app(holder, metrics, lifecycle), access_log=None)
    await admin_runner.setup()
    watcher: ConfigWatcher | None = None
    try:
        admin_site = web.TCPSite(admin_runner, config.admin.host, config.admin.port,
                                 reuse_port=config.server.workers > 1)  # fmt: skip
        await admin_site.start()
        admin_port = _bound_port(admin_runner.addresses, config.admin.port)
        # Liveness answers from here on; readiness waits for the keys and the listener.
        await holder.current.keyset.start()
        engine = choose_engine(config)
        if engine == "lean":
            port, stop = await _start_lean(config, holder, metrics)
        else:
            port, stop = await _start_aiohttp(config, holder, metrics, lifecycle)
        if config_path is not None:
            path, environ = config_path, env or {}
            watcher = ConfigWatcher(path, lambda: reload_config(path, holder, metrics, environ))
            watcher.start()
        lifecycle.serving = True
        listening = Listening(config.listen.host, port, config.admin.host, admin_port, engine)
        log.info("listening", extra={"engine": engine, "host": config.listen.host, "port": port,
                                     "admin_port": admin_port, "pid": os.getpid(),
                                     "upstream": config.upstream.url,
                                     "quickstart": config.quickstart.enabled})  # fmt: skip
        if on_listening is not None:
            on_listening(listening)
        await lifecycle.stop_requested.wait()
        log.info("draining", extra={"timeout_seconds": config.limits.drain_timeout_seconds})
        await stop()
        log.info("stopped")
    finally:
        if watcher is not None:
            await watcher.stop()
        await holder.close()
        await admin_runner.cleanup()


def run_coroutine(coro: Coroutine[Any, Any, None]) -> None:
    """Run on uvloop when it is installed, else on the default loop."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(coro)
        return
    uvloop.run(coro)


def _worker(config_path: str, env: dict[str, str], log_level: str) -> None:
    setup_logging(log_level)
    config = load_config(config_path, env)
    run_coroutine(serve(config, config_path=config_path, env=env))


def run(
    config: ProxyConfig,
    *,
    config_path: str | None,
    env: Mapping[str, str],
    log_level: str = "INFO",
) -> int:
    """Serve in this process, or supervise ``server.workers`` processes."""
    workers = config.server.workers
    if workers <= 1 or config_path is None:
        run_coroutine(serve(config, config_path=config_path, env=env))
        return 0
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(
            target=_worker, args=(config_path, dict(env), log_level), name=f"authgate-worker-{i}"
        )
        for i in range(workers)
    ]
    for proc in procs:
        proc.start()
    log.info("workers started", extra={"workers": workers, "pids": [p.pid for p in procs]})

    def forward(signum: int, _frame: object) -> None:
        for proc in procs:
            if proc.is_alive() and proc.pid is not None:
                os.kill(proc.pid, signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for proc in procs:
        proc.join()
    return max((p.exitcode or 0) for p in procs)

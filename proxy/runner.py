"""Running the proxy: listeners, engine choice, reload, drain, workers.

:func:`serve` is one proxy process: the admin listener first (so liveness
answers while keys load), then the client listener on the configured engine
— the lean engine (:mod:`authgate.proxy.lean`, also for ``auto``) or the
aiohttp engine (:mod:`authgate.proxy.aiohttp.app`) — then the config
watcher.  It returns after a SIGTERM/SIGINT drain (see :mod:`authgate.proxy.lifecycle`).

aiohttp is imported only when the aiohttp engine is chosen: the admin
listener (:mod:`authgate.proxy.admin`) and the IdP fetcher
(:mod:`authgate.core.idpfetch`) are plain asyncio, so a lean sidecar never
loads it (~13 MiB per pod, see docs/performance.md).

:func:`run` adds process management: uvloop when available, and for
``server.workers > 1`` the fork-after-import supervisor of
:mod:`authgate.proxy.workers` (workers bind the same port with
``SO_REUSEPORT``; the supervisor answers the admin port for all of them).
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import socket
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from authgate.core.config import ProxyConfig

from .admin import AdminServer, process_handlers, readiness, start_admin
from .lifecycle import Lifecycle
from .metrics import Metrics
from .records import RequestObserver
from .reload import ConfigWatcher, reload_config
from .runtime import RuntimeHolder, build_runtime

_T = TypeVar("_T")

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
    # Imported here: only the aiohttp engine pays for aiohttp.
    from aiohttp import web

    from .accesslog import install_aiohttp_redaction
    from .aiohttp.app import build_app
    from .aiohttp.safe_handler import ProxyAppRunner

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
    control: socket.socket | None = None,
) -> None:
    """Run one proxy process until SIGTERM/SIGINT, then drain and return.

    ``control`` is given to a worker of several: it then opens no admin
    listener and answers the supervisor's readiness/metrics queries on that
    socket instead (:mod:`authgate.proxy.workers`)."""
    lifecycle = lifecycle or Lifecycle()
    holder = RuntimeHolder(await build_runtime(config, start_keys=False))
    metrics = Metrics(key_source=lambda: holder)
    if install_signals:
        lifecycle.install_signal_handlers()

    admin: AdminServer | None = None
    control_task: asyncio.Task[None] | None = None
    watcher: ConfigWatcher | None = None
    try:
        if control is None:
            routes = process_handlers(holder, metrics, lifecycle)
            admin = await start_admin(config.admin.host, config.admin.port, routes)
            admin_port = admin.port
        else:
            from .workers import serve_control

            admin_port = config.admin.port
            control_task = asyncio.get_running_loop().create_task(
                serve_control(control, lambda: readiness(lifecycle, holder), metrics.exposition)
            )
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
        log.info(
            "listening",
            extra={
                "engine": engine,
                "host": config.listen.host,
                "port": port,
                "admin_port": admin_port,
                "pid": os.getpid(),
                "upstream": config.upstream.url,
                "quickstart": config.quickstart.enabled,
            },
        )
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
        if control_task is not None:
            control_task.cancel()
        if admin is not None:
            await admin.close()


def run_coroutine(coro: Coroutine[Any, Any, _T]) -> _T:
    """Run on uvloop when it is installed, else on the default loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


def _preload(config: ProxyConfig) -> None:
    """Import, before forking, everything a worker would import on its own."""
    importlib.import_module("authgate.proxy.workers")
    if choose_engine(config) == "lean":
        importlib.import_module("authgate.proxy.lean.server")
    else:
        for name in ("authgate.proxy.aiohttp.app", "authgate.proxy.aiohttp.safe_handler"):
            importlib.import_module(name)
    try:
        importlib.import_module("uvloop")
    except ImportError:
        pass


def run(
    config: ProxyConfig,
    *,
    config_path: str | None,
    env: Mapping[str, str],
    log_level: str = "INFO",
) -> int:
    """Serve in this process, or supervise ``server.workers`` forked workers."""
    workers = config.server.workers
    if workers <= 1 or config_path is None:
        run_coroutine(serve(config, config_path=config_path, env=env))
        return 0
    from .workers import supervise

    def child(index: int, control: socket.socket) -> int:
        run_coroutine(serve(config, config_path=config_path, env=env, control=control))
        return 0

    return supervise(
        workers,
        admin_host=config.admin.host,
        admin_port=config.admin.port,
        drain_seconds=config.limits.drain_timeout_seconds,
        preload=lambda: _preload(config),
        child=child,
        run=run_coroutine,
    )

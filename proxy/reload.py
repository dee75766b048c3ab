"""Hot reload: notice config-file changes and swap the Gate atomically.

Kubernetes mounts a ConfigMap as ``config.yaml -> ..data/config.yaml`` with
``..data`` itself a symlink that the kubelet swaps atomically; inotify on the
file name misses that, and the old inode's mtime never changes.  So the
watcher polls (about once a second) a signature of the *resolved* file —
real path, device, inode, mtime and size — which changes on an in-place
write, a rename over the file, and a symlink swap alike.

A change is loaded and validated completely before anything is touched; an
invalid document (or one whose new issuer's keys cannot be loaded) keeps the
running configuration, is logged with every error, and counted in
``authgate_config_reloads_total{result=...}``.  A valid one becomes a new
:class:`~authgate.proxy.runtime.Runtime` installed with one assignment, so
open connections are not dropped and each request sees one configuration.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Mapping

from authgate.core.background import stop_task
from authgate.core.config import load_config
from authgate.core.errors import ConfigError

from .metrics import Metrics
from .runtime import RuntimeHolder, build_runtime, restart_required_changes

__all__ = ["ConfigWatcher", "file_signature", "reload_config"]

log = logging.getLogger("authgate.proxy.reload")

Signature = tuple[str, int, int, int, int] | None


def file_signature(path: str) -> Signature:
    """What identifies the content behind ``path`` right now (``None`` if absent)."""
    try:
        real = os.path.realpath(path)
        st = os.stat(real)
    except OSError:
        return None
    return (real, st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)


async def reload_config(
    path: str, holder: RuntimeHolder, metrics: Metrics, env: Mapping[str, str]
) -> str:
    """Load ``path`` and install it; returns the result label."""
    try:
        config = load_config(path, env)
    except ConfigError as exc:
        log.error(
            "config reload rejected; keeping the running config",
            extra={"path": path, "errors": exc.errors},
        )
        metrics.config_reloads.labels(result="invalid").inc()
        return "invalid"
    current = holder.current
    if config == current.config:
        return "unchanged"
    for section in restart_required_changes(current.config, config):
        log.warning("config change needs a restart to apply", extra={"section": section})
    try:
        runtime = await build_runtime(config, previous=current)
    except Exception:
        log.exception("config reload failed; keeping the running config", extra={"path": path})
        metrics.config_reloads.labels(result="error").inc()
        return "error"
    if runtime.keyset is not current.keyset and not runtime.keyset.ready:
        await runtime.keyset.close()
        log.error(
            "config reload rejected: keys of the new issuers could not be loaded",
            extra={"path": path},
        )
        metrics.config_reloads.labels(result="keys_unavailable").inc()
        return "keys_unavailable"
    holder.swap(runtime, grace_seconds=config.limits.drain_timeout_seconds)
    metrics.config_reloads.labels(result="success").inc()
    log.info("config reloaded", extra={"path": path})
    return "success"


class ConfigWatcher:
    """Polls :func:`file_signature` and calls ``on_change`` when it moves."""

    def __init__(
        self,
        path: str,
        on_change: Callable[[], Awaitable[object]],
        *,
        interval: float = 1.0,
    ) -> None:
        self.path = path
        self._on_change = on_change
        self._interval = interval
        self._signature = file_signature(path)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            signature = file_signature(self.path)
            if signature is None or signature == self._signature:
                continue  # a missing file mid-swap is not a change yet
            self._signature = signature
            try:
                await self._on_change()
            except Exception:
                log.exception("config reload failed; keeping the running config")

    async def stop(self) -> None:
        await stop_task(self._task)
        self._task = None

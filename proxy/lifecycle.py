"""Process lifecycle: readiness, in-flight accounting and the SIGTERM drain.

Kubernetes sends SIGTERM and, concurrently, removes the pod from Service
endpoints — which takes a moment to propagate.  So on SIGTERM readiness turns
false *at once* (``/readyz`` → 503), then the listener stops accepting, and
in-flight requests get ``limits.drain_timeout_seconds`` to finish; websockets
are closed with 1001 (going away, RFC 6455 §7.4.1).  The admin listener stays
up until the very end so the probe can observe the drain.
"""

from __future__ import annotations

import asyncio
import logging
import signal

__all__ = ["Lifecycle"]

log = logging.getLogger("authgate.proxy.lifecycle")


class Lifecycle:
    """Shared flags of one proxy process."""

    def __init__(self) -> None:
        self.draining = False
        self.serving = False  # the client listener is bound and accepting
        self.in_flight = 0
        self.stop_requested = asyncio.Event()

    def begin_drain(self, signame: str = "SIGTERM") -> None:
        """Readiness fails immediately; the runner then performs the drain."""
        if self.draining:
            return
        self.draining = True
        log.info("draining", extra={"signal": signame, "in_flight": self.in_flight})
        self.stop_requested.set()

    def install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.begin_drain, sig.name)

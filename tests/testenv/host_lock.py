"""The machine-wide lock that lets one test cluster run at a time.

The bridge, the pod range and kube-proxy's iptables chains are host-wide, so
two sessions (two worktrees, or CI beside a developer) must not both start a
cluster. ``flock`` on a file in the cache serialises them; the kernel drops
the lock when its holder dies, so a crashed session never blocks the next one.
"""

from __future__ import annotations

import fcntl
import time
from pathlib import Path
from typing import TextIO

from .errors import ComponentFailed

#: How often a waiting session retries the lock.
POLL_SECONDS = 2.0


class HostLock:
    """An exclusive ``flock`` on ``path``, waited for at most ``timeout`` seconds."""

    def __init__(self, path: Path, timeout: float) -> None:
        self.path = path
        self.timeout = timeout
        self._handle: TextIO | None = None

    @property
    def held(self) -> bool:
        return self._handle is not None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("w")
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    handle.close()
                    raise ComponentFailed(
                        f"another session's cluster held {self.path} for {self.timeout:.0f}s",
                        "",
                    ) from None
                time.sleep(POLL_SECONDS)
        self._handle = handle

    def release(self) -> None:
        if self._handle is not None:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None

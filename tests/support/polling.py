"""The one bounded poll for a condition that is not an HTTP answer.

The operator, cluster and smoke suites wait for Kubernetes objects, pods and
reconciles to reach a state; each had its own deadline loop.  :func:`eventually`
is that loop once: an exception counts as "not yet" and is reported if time runs out.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["eventually"]

T = TypeVar("T")


def eventually(
    fn: Callable[[], T], timeout: float = 60.0, interval: float = 0.5, what: str = "condition"
) -> T:
    """Call ``fn`` until it returns a truthy value (returned) or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    last: Any = None
    error: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            last = fn()
            error = None
        except Exception as exc:  # retried until the deadline
            error = exc
            last = None
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(
        f"timed out after {timeout}s waiting for {what}; last={last!r} error={error!r}"
    )

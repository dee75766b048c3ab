"""Waiting for something a real component does in its own time.

Every suite that drives a real process (the operator, the cluster, the smokes)
polls the same way: call, retry on a falsy answer or an exception, and after
the deadline fail naming what was awaited and the last answer or error, so a
timeout in CI says what never happened.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

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

"""Stopping a background task (a JWKS refresh loop, a revocation poller) the one
way every owner does it: cancel, then wait until the task has unwound.

Waiting matters: an owner that only cancelled would return while the task still
runs its cleanup, and a loop closed at shutdown would leave a "Task was destroyed
but it is pending" warning.  The task's own ``CancelledError`` is its expected end,
so it is not re-raised.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

__all__ = ["stop_task"]


async def stop_task(task: asyncio.Task[Any] | None) -> None:
    """Cancel ``task`` (nothing when ``None``) and wait for it to finish."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task

"""A bounded load generator that says what happened to every request.

Each fault scenario runs steady traffic through the real proxy and asserts on
a :class:`LoadReport`: how many requests were sent, how many succeeded, how
many failed and *why* (the status plus the proxy's machine-readable
``reason``, or the client-side exception).  Every loop is bounded by a
request budget and a deadline, and every request by a timeout.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp


@dataclass(frozen=True)
class Outcome:
    started: float  # monotonic
    finished: float
    status: int  # 0 for a client-side failure
    reason: str  # "ok", the proxy's JSON "reason", or the exception type
    tag: str = ""


@dataclass
class LoadReport:
    name: str
    outcomes: list[Outcome] = field(default_factory=list)

    def add(self, outcome: Outcome) -> None:
        self.outcomes.append(outcome)

    @property
    def sent(self) -> int:
        return len(self.outcomes)

    @property
    def succeeded(self) -> int:
        return sum(1 for o in self.outcomes if 200 <= o.status < 300)

    @property
    def failed(self) -> int:
        return self.sent - self.succeeded

    def reasons(self, outcomes: list[Outcome] | None = None) -> Counter[str]:
        return Counter(
            f"{o.status} {o.reason}"
            for o in (self.outcomes if outcomes is None else outcomes)
            if not 200 <= o.status < 300
        )

    def between(self, start: float, end: float) -> list[Outcome]:
        """Outcomes whose request *started* in ``[start, end)``."""
        return [o for o in self.outcomes if start <= o.started < end]

    def summary(self) -> str:
        reasons = ", ".join(f"{k}: {v}" for k, v in self.reasons().most_common()) or "-"
        return (
            f"[{self.name}] sent={self.sent} succeeded={self.succeeded} failed={self.failed} "
            f"failures by reason: {reasons}"
        )

    def print(self) -> None:
        print(self.summary(), flush=True)


async def _reason(resp: aiohttp.ClientResponse) -> str:
    try:
        body = await resp.json(content_type=None)
        if isinstance(body, dict) and "reason" in body:
            return str(body["reason"])
    except Exception:
        pass
    return "-"


async def one_request(
    session: aiohttp.ClientSession,
    url: str,
    token: str | None,
    *,
    timeout: float = 15.0,
    tag: str = "",
    method: str = "GET",
) -> Outcome:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    started = time.monotonic()
    try:
        async with session.request(
            method, url, headers=headers, timeout=aiohttp.ClientTimeout(total=timeout)
        ) as resp:
            if 200 <= resp.status < 300:
                await resp.read()
                reason = "ok"
            else:
                reason = await _reason(resp)
            return Outcome(started, time.monotonic(), resp.status, reason, tag)
    except TimeoutError:
        return Outcome(started, time.monotonic(), 0, "client_timeout", tag)
    except aiohttp.ClientError as exc:
        return Outcome(started, time.monotonic(), 0, type(exc).__name__, tag)
    except OSError as exc:
        return Outcome(started, time.monotonic(), 0, type(exc).__name__, tag)


async def run_load(
    report: LoadReport,
    url: str,
    token: Callable[[], str | None],
    *,
    concurrency: int,
    duration: float,
    max_requests: int,
    stop: asyncio.Event | None = None,
    timeout: float = 15.0,
    pause: float = 0.0,
    tag: str = "",
    session: aiohttp.ClientSession | None = None,
) -> LoadReport:
    """``concurrency`` workers send GETs to ``url`` until ``duration`` seconds
    passed, ``max_requests`` were sent, or ``stop`` is set."""
    deadline = time.monotonic() + duration
    budget = [max_requests]
    own = session is None
    sess = session or aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=concurrency, force_close=False)
    )

    async def worker() -> None:
        while time.monotonic() < deadline and budget[0] > 0:
            if stop is not None and stop.is_set():
                return
            budget[0] -= 1
            report.add(await one_request(sess, url, token(), timeout=timeout, tag=tag))
            if pause:
                await asyncio.sleep(pause)

    try:
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    finally:
        if own:
            await sess.close()
    return report

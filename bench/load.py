"""Load generators: wrk for saturation, oha (or our own) for fixed rates, a WebSocket pump.

* **Saturation** — ``wrk`` with a Lua script that sets ``Authorization``:
  one token for every request (repeated case), the next of a file of
  distinct tokens on every request (unique case, which defeats any cache), or
  a new token on every tenth request and the repeated one otherwise (mixed).
  The script prints wrk's own summary as JSON from ``done()``.
* **Fixed rate** — ``oha -q RATE --latency-correction``: each latency is
  measured from the request's *intended* send time, so a stall is counted
  against every request it delayed (no coordinated omission).  Without oha,
  :func:`fixed_rate_python` does the same with asyncio raw sockets.
* **WebSocket** — one connection, a window of in-flight echo messages,
  messages per second over a fixed duration.
"""

from __future__ import annotations

import asyncio
import json
import re
import statistics
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["LatencyResult", "LoadResult", "fixed_rate", "saturate", "websocket_rate"]

LUA = r"""
local tokens = {}
local idx = 0
local mode = "repeat"
local n = 0
init = function(args)
  if args[1] == nil then return end
  mode = args[2] or "repeat"
  for line in io.lines(args[1]) do
    if #line > 0 then tokens[#tokens + 1] = line end
    if mode == "repeat" then break end
  end
  idx = math.random(#tokens)
  wrk.headers["Authorization"] = "Bearer " .. tokens[1]
end
request = function()
  n = n + 1
  -- unique: a new token every request; mixed: every 10th request (the rest repeat one)
  if mode == "unique" or (mode == "mixed" and n % 10 == 0) then
    idx = idx % #tokens + 1
    return wrk.format(nil, nil, {["Authorization"] = "Bearer " .. tokens[idx]})
  end
  return wrk.format()
end
local statuses = {}
response = function(status, headers, body)
  if status >= 300 then statuses[status] = (statuses[status] or 0) + 1 end
end
done = function(summary, latency, requests)
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,' ..
    '"read":%d,"write":%d,"status":%d,"timeout":%d,"p50_us":%d,"p99_us":%d}\n',
    summary.requests, summary.duration, summary.bytes, summary.errors.connect,
    summary.errors.read, summary.errors.write, summary.errors.status, summary.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


@dataclass(frozen=True)
class LoadResult:
    rps: float
    requests: int
    errors: int
    bytes_per_second: float


@dataclass(frozen=True)
class LatencyResult:
    rate: float
    achieved_rps: float
    p50_ms: float
    p99_ms: float
    p999_ms: float
    errors: int


def write_lua(workdir: Path) -> Path:
    path = workdir / "auth.lua"
    path.write_text(LUA)
    return path


def saturate(
    wrk: str,
    url: str,
    *,
    lua: Path,
    tokens: Path | None,
    unique: bool = False,
    mixed: bool = False,
    seconds: float,
    connections: int = 64,
    threads: int = 1,
) -> LoadResult:
    """One wrk run; ``tokens=None`` sends no Authorization (direct, nginx)."""
    argv = [
        wrk,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "-s",
        str(lua),
        url,
    ]
    if tokens is not None:
        argv += ["--", str(tokens), "unique" if unique else "mixed" if mixed else "repeat"]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60, check=False)
    match = re.search(r"WRKJSON (\{.*\})", out.stdout)
    if match is None:
        raise RuntimeError(f"wrk failed ({out.returncode}): {out.stdout}\n{out.stderr}")
    data = json.loads(match.group(1))
    duration = data["duration_us"] / 1e6
    errors = data["connect"] + data["read"] + data["write"] + data["status"] + data["timeout"]
    ok = data["requests"] - data["status"]
    return LoadResult(ok / duration, data["requests"], errors, data["bytes"] / duration)


def _oha_json_flag(oha: str) -> list[str]:
    help_text = subprocess.run([oha, "--help"], capture_output=True, text=True, check=False).stdout
    if "--output-format" in help_text:
        return ["--output-format", "json"]
    return ["--json"]


def fixed_rate(
    oha: str | None,
    url: str,
    *,
    token: str | None,
    rate: float,
    seconds: float,
    connections: int = 32,
) -> LatencyResult:
    """Latency at a fixed offered rate, measured from the intended send times."""
    if oha is None:
        return asyncio.run(
            fixed_rate_python(url, token=token, rate=rate, seconds=seconds, connections=connections)
        )
    argv = [
        oha,
        "-z",
        f"{seconds}s",
        "-q",
        str(rate),
        "-c",
        str(connections),
        "--latency-correction",
        "--no-tui",
    ]
    argv += _oha_json_flag(oha)
    if token is not None:
        argv += ["-H", f"Authorization: Bearer {token}"]
    argv.append(url)
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60, check=False)
    try:
        data = json.loads(out.stdout)
    except json.JSONDecodeError:
        raise RuntimeError(
            f"oha failed ({out.returncode}): {out.stdout[-2000:]}\n{out.stderr[-2000:]}"
        ) from None
    pct = data["latencyPercentiles"]
    summary = data["summary"]
    statuses = data.get("statusCodeDistribution", {})
    bad = sum(int(v) for k, v in statuses.items() if not str(k).startswith("2"))
    errors = bad + sum(int(v) for v in data.get("errorDistribution", {}).values())
    return LatencyResult(
        rate=rate,
        achieved_rps=float(summary.get("requestsPerSec") or 0.0),
        p50_ms=float(pct["p50"] or 0) * 1000,
        p99_ms=float(pct["p99"] or 0) * 1000,
        p999_ms=float(pct.get("p99.9") or pct.get("p99_9") or 0) * 1000,
        errors=errors,
    )


async def fixed_rate_python(
    url: str, *, token: str | None, rate: float, seconds: float, connections: int
) -> LatencyResult:
    """A fixed-rate HTTP/1.1 generator on raw asyncio streams.

    Request *i* is due at ``t0 + i / rate``; a free connection takes the next
    due request (waiting until it is due), and its latency is measured from
    the due time, not from when it was actually sent — a stalled server is
    charged for every request that queued behind the stall.
    """
    host_port, _, path = url.split("//", 1)[1].partition("/")
    host, port = host_port.rsplit(":", 1)
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    request = f"GET /{path} HTTP/1.1\r\nHost: {host_port}\r\n{auth}\r\n".encode()
    total = int(rate * seconds)
    loop = asyncio.get_running_loop()
    t0 = loop.time() + 0.2
    latencies: list[float] = []
    errors = 0
    next_index = 0

    async def worker() -> None:
        nonlocal next_index, errors
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            while True:
                i = next_index
                if i >= total:
                    return
                next_index += 1
                due = t0 + i / rate
                delay = due - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))  # type: ignore[union-attr]
                await reader.readexactly(length)
                if not head.startswith(b"HTTP/1.1 2"):
                    errors += 1
                latencies.append(loop.time() - due)
        finally:
            writer.close()

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(connections)))
    elapsed = time.monotonic() - started
    latencies.sort()

    def pct(p: float) -> float:
        return (
            latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000 if latencies else 0.0
        )

    return LatencyResult(rate, len(latencies) / elapsed, pct(0.5), pct(0.99), pct(0.999), errors)


async def _ws_pump(url: str, token: str | None, seconds: float, window: int, size: int) -> float:
    import aiohttp

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    payload = b"m" * size
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(url, headers=headers, max_msg_size=0) as ws:
            for _ in range(window):
                await ws.send_bytes(payload)
            received = 0
            deadline = time.monotonic() + seconds
            started = time.monotonic()
            while time.monotonic() < deadline:
                await ws.receive_bytes(timeout=10)
                received += 1
                await ws.send_bytes(payload)
            elapsed = time.monotonic() - started
            await ws.close()
            return received / elapsed


def websocket_rate(
    url: str, *, token: str | None, seconds: float, window: int = 32, size: int = 128
) -> float:
    """Echoed messages per second through one WebSocket, ``window`` in flight."""
    return asyncio.run(_ws_pump(url, token, seconds, window, size))


def median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0

"""Requests per second through the proxy vs. directly to the upstream.

Same machine, same run, same cached token: ``wrk`` drives GET requests at the
demo echo service directly, then through the proxy on each engine.  Prints
the figures; asserts nothing (speed is measured, not tested).

    .venv/bin/python -m tests.proxy.bench_proxy [--duration 10] [--connections 32] [--rounds 3]
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

from tests.support.idp import serve_idp

from .proxy_harness import ProxyProcess, base_document, demo_service


def wrk(url: str, token: str | None, duration: int, connections: int) -> float:
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency"]
    if token:
        argv += ["-H", f"Authorization: Bearer {token}"]
    out = subprocess.run(
        [*argv, url], capture_output=True, text=True, check=True, timeout=duration + 30
    ).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        raise RuntimeError(f"{url}: {non2xx.group(1)} failed requests\n{out}")
    assert match, out
    return float(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (apt-get install wrk)")
    work = Path(tempfile.mkdtemp(prefix="authgate-bench-"))
    servers = ExitStack()
    try:
        idp = servers.enter_context(serve_idp(realm=""))
        demo = servers.enter_context(demo_service(work))
        token = idp.mint(ttl=3600)
        proxies: dict[str, ProxyProcess] = {}
        for engine in ("aiohttp", "lean"):
            doc = base_document(idp.issuer, demo, engine)
            doc["limits"]["max_in_flight"] = 4096
            (work / engine).mkdir()
            proxies[engine] = ProxyProcess(doc, work / engine).start()
        targets = {"direct": (f"{demo}/apis/bench", None)}
        targets.update({e: (f"{p.url}/apis/bench", token) for e, p in proxies.items()})
        try:
            for url, tok in targets.values():
                wrk(url, tok, 2, args.connections)  # warm token caches and pools
            # Interleaved rounds, so a burst of load from elsewhere on the
            # machine hits every target alike; the median is reported.
            samples: dict[str, list[float]] = {name: [] for name in targets}
            for _ in range(args.rounds):
                for name, (url, tok) in targets.items():
                    samples[name].append(wrk(url, tok, args.duration, args.connections))
        finally:
            for proxy in proxies.values():
                proxy.stop()
        print(
            f"wrk -t1 -c{args.connections} -d{args.duration}s x {args.rounds} interleaved rounds,"
            " GET /apis/bench, RS256 token (cached), demo echo upstream (aiohttp), same machine"
        )
        direct = statistics.median(samples["direct"])
        for name, values in samples.items():
            rps = statistics.median(values)
            share = f"  ({rps / direct:.0%} of direct)" if name != "direct" else ""
            runs = ", ".join(f"{v:.0f}" for v in values)
            print(f"  {name:8s} median {rps:8.0f} req/s{share}   [{runs}]")
    finally:
        servers.close()


if __name__ == "__main__":
    main()

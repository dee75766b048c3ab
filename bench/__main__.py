"""``python -m bench``: run every contender once, print and save the tables.

Examples::

    make bench                                  # the full run (several minutes)
    python -m bench --quick                     # short run, 2 repeats
    python -m bench --quick --smoke             # seconds per contender, checks the harness only
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from .contenders import BenchError, find_tool
from .report import absolute_targets, cost_markdown, markdown, targets, targets_markdown
from .runner import Plan, run

RESULTS = Path(__file__).resolve().parent / "results"


def _tools() -> dict[str, str | None]:
    oauth2 = os.environ.get("AUTHGATE_OAUTH2_PROXY")
    if not oauth2:
        found = sorted(Path.home().glob(".cache/authgate/oauth2-proxy-*/oauth2-proxy"))
        oauth2 = str(found[-1]) if found else None
    return {
        "wrk": find_tool("wrk"),
        "nginx": find_tool("nginx"),
        "oha": find_tool("oha", "AUTHGATE_OHA"),
        "oauth2-proxy": oauth2 if oauth2 and os.access(oauth2, os.X_OK) else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="short run: 2 s points, 2 repeats")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="harness check only: 1 s points, 1 repeat, one load level",
    )
    parser.add_argument("--seconds", type=float, help="duration of each measured point")
    parser.add_argument("--repeats", type=int, help="runs per point (median reported)")
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 2,
        help="workers of the multi-process lean contender (default: CPUs)",
    )
    parser.add_argument(
        "--only", default="", help="comma-separated contenders (direct always runs)"
    )
    parser.add_argument(
        "--no-setup", action="store_true", help="do not run bench/setup.sh for missing tools"
    )
    parser.add_argument(
        "--mixed-seconds", type=float, help="length of the mixed run before the last memory reading"
    )
    parser.add_argument(
        "--image",
        default=os.environ.get("AUTHGATE_BENCH_IMAGE"),
        help="image tag whose size is reported (docker image inspect; DOCKER_HOST is honoured)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="where the table and JSON go")
    args = parser.parse_args(argv)

    if args.smoke:
        plan = Plan(seconds=1, repeats=1, unique_tokens=300, smoke=True, mixed_seconds=1)
    elif args.quick:
        plan = Plan(seconds=2, repeats=2, unique_tokens=12000, mixed_seconds=10)
    else:
        plan = Plan()
    overrides: dict[str, object] = {
        "workers": args.workers,
        "only": tuple(filter(None, args.only.split(","))),
        "image": args.image,
    }
    if args.mixed_seconds is not None:
        overrides["mixed_seconds"] = args.mixed_seconds
    if args.seconds:
        overrides["seconds"] = args.seconds
    if args.repeats:
        overrides["repeats"] = args.repeats
    plan = Plan(**{**plan.__dict__, **overrides})

    tools = _tools()
    if None in tools.values() and not args.no_setup:
        # A fresh machine: install/build what is missing (idempotent).
        setup = Path(__file__).resolve().parent / "setup.sh"
        out = subprocess.run(["bash", str(setup)], capture_output=True, text=True, check=False)
        for line in out.stdout.splitlines():
            if line.startswith("export ") and "=" in line:
                key, _, value = line[len("export ") :].partition("=")
                os.environ.setdefault(key, value)
        if out.returncode != 0:
            print(out.stderr[-3000:], file=sys.stderr)
        tools = _tools()
    missing = [name for name in ("wrk", "nginx") if tools[name] is None]
    if missing:
        print(f"missing tools: {', '.join(missing)} (run bench/setup.sh)", file=sys.stderr)
        return 2
    if tools["oauth2-proxy"] is None:
        print("warning: oauth2-proxy not found (AUTHGATE_OAUTH2_PROXY): no ratios", file=sys.stderr)
    if tools["oha"] is None:
        print(
            "note: oha not found; fixed-rate latency uses the built-in generator", file=sys.stderr
        )

    started = time.time()
    try:
        result = run(plan, tools)
    except BenchError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    result["started"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started))
    result["elapsed_seconds"] = round(time.time() - started, 1)
    result["command"] = "python -m bench " + " ".join(argv if argv is not None else sys.argv[1:])
    table = markdown(result)
    cost = cost_markdown(result)
    goals = targets_markdown(targets(result, plan.workers), absolute_targets(result))
    text = f"{table}\n{cost}\nTargets (issues 7 and 16):\n\n{goals}"
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(started))
    for name in (stamp, "latest"):
        (args.out / f"{name}.json").write_text(json.dumps(result, indent=2, default=str))
        (args.out / f"{name}.md").write_text(text)
    print(text)
    print(f"results: {args.out / (stamp + '.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

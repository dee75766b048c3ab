"""Both engines, same config, each in front of its own recording upstream.

The proxies, the fake IdP and the process helpers are the proxy suite's
(``tests/proxy/proxy_harness.py``, ``tests/proxy/conftest.py``): one harness
serves every suite.  The pair is started once per session; every case resets
both recorders and sends the same bytes to both engines at once.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from ..proxy.conftest import fake_idp
from ..proxy.proxy_harness import FakeIdP, ProxyProcess, base_config, deep_merge
from .cases import TOKEN, Case, Observed
from .compare import Allowed, differences, load_allowlist
from .oracle import check
from .recorder import Forwarded, RecordingUpstream
from .wire import exchange

__all__ = ["EnginePair", "fake_idp"]

pytestmark = pytest.mark.integration

ENGINES = ("lean", "aiohttp")
FIGURES = Path(os.environ.get("AUTHGATE_CONFORMANCE_FIGURES", "build/conformance-figures.json"))

#: What both proxies run with, on top of the proxy suite's ``base_config``.
OVERRIDES = {
    "server": {"workers": 1},
    "headers": {"strip": ["X-Debug-User"]},
    "upstream": {"read_timeout_seconds": 3},
}


class EnginePair:
    """Runs a :class:`Case` on both engines and keeps the suite's figures."""

    def __init__(
        self,
        idp: FakeIdP,
        proxies: dict[str, ProxyProcess],
        upstreams: dict[str, RecordingUpstream],
    ) -> None:
        self.idp = idp
        self.proxies = proxies
        self.upstreams = upstreams
        self.allowlist: list[Allowed] = load_allowlist()
        self.pool = ThreadPoolExecutor(len(ENGINES))
        self.figures: dict[str, Any] = {
            "cases": 0,
            "differing_cases": 0,
            "oracle_violations": 0,
            "allowed": {},
            "unexplained": [],
        }

    def run(self, case: Case) -> dict[str, Observed]:
        data = case.data
        if TOKEN in data:
            data = data.replace(TOKEN, self.idp.mint(**dict(case.claims)).encode())
        for upstream in self.upstreams.values():
            upstream.reset(case.reply)
        futures = {
            engine: self.pool.submit(
                exchange, self.proxies[engine].port, data, head_request=case.head_request
            )
            for engine in ENGINES
        }
        return {engine: Observed(f.result(), self._seen(engine)) for engine, f in futures.items()}

    def _seen(self, engine: str) -> tuple[Forwarded, ...]:
        """What ``engine``'s upstream received, its own address written ``<upstream>``
        (the ``Host`` an HTTP/1.0 request without one gets) so the two compare."""
        own = f"127.0.0.1:{self.upstreams[engine].port}".encode()
        return tuple(
            replace(fwd, headers=tuple((n, v.replace(own, b"<upstream>")) for n, v in fwd.headers))
            for fwd in self.upstreams[engine].requests
        )

    def verify(self, case: Case) -> list[str]:
        """Run ``case``; the problems found (differences not allowed, oracle violations)."""
        observed = self.run(case)
        unexplained, allowed = differences(
            case, observed["lean"], observed["aiohttp"], self.allowlist
        )
        problems = [f"differ: {d}" for d in unexplained]
        for engine in ENGINES:
            problems += [f"oracle[{engine}]: {v}" for v in check(case, observed[engine])]
        figures = self.figures
        figures["cases"] += 1
        if unexplained or allowed:
            figures["differing_cases"] += 1
        counts = figures["allowed"]
        for entry in {entry.id for _, entry in allowed}:
            counts[entry] = counts.get(entry, 0) + 1
        figures["oracle_violations"] += sum(p.startswith("oracle") for p in problems)
        if problems:
            figures["unexplained"].append({"case": case.name, "problems": problems[:8]})
        return problems


@pytest.fixture(scope="session")
def engines(fake_idp: FakeIdP, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EnginePair]:
    workdir = tmp_path_factory.mktemp("conformance")
    upstreams = {engine: RecordingUpstream().start() for engine in ENGINES}
    proxies = {
        engine: ProxyProcess(
            deep_merge(base_config(fake_idp.issuer, upstreams[engine].url, engine), OVERRIDES),
            workdir,
            name=engine,
        )
        for engine in ENGINES
    }
    try:
        for proxy in proxies.values():
            proxy.start(timeout=90)
        pair = EnginePair(fake_idp, proxies, upstreams)
        yield pair
        FIGURES.parent.mkdir(parents=True, exist_ok=True)
        FIGURES.write_text(json.dumps(pair.figures, indent=2, default=str))
    finally:
        for proxy in proxies.values():
            proxy.stop()
        for upstream in upstreams.values():
            upstream.close()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not FIGURES.exists() or os.environ.get("AUTHGATE_CONFORMANCE_REPORT") != "1":
        return
    figures = json.loads(FIGURES.read_text())
    terminalreporter.section("conformance figures")
    terminalreporter.write_line(
        f"cases run: {figures['cases']}  cases with differences: {figures['differing_cases']}  "
        f"oracle violations: {figures['oracle_violations']}  "
        f"unexplained cases: {len(figures['unexplained'])}"
    )
    for entry, count in sorted(figures["allowed"].items()):
        terminalreporter.write_line(f"  allowed {entry}: {count} cases")
    for item in figures["unexplained"][:20]:
        terminalreporter.write_line(f"  {item['case']}: {item['problems'][:3]}")

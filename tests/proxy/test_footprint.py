"""The sidecar's footprint: a lean process never loads aiohttp; workers share one admin port.

The module check runs *inside* the proxy process: a two-line bootstrap
registers an ``atexit`` hook that writes ``sys.modules`` to a file, then
runs the real ``authgate proxy`` command.  After serving traffic, a
``/metrics`` scrape and a SIGTERM drain, the dump is what that process had
loaded.  The aiohttp engine is the control: there the same assertion fails.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from .proxy_harness import PYTHON, FakeIdP, ProxyProcess, ServerProcess, http_get, wait_for

pytestmark = pytest.mark.integration

BOOTSTRAP = (
    "import atexit, json, os, sys\n"
    "atexit.register(lambda: open(os.environ['MODULES_DUMP'], 'w')"
    ".write(json.dumps(sorted(sys.modules))))\n"
    "from authgate.cli import main\n"
    "main(prog_name='authgate')\n"
)


def _request(url: str, token: str | None = None) -> int:
    import http.client

    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        conn.request(
            "GET", "/apis/x", headers={"Authorization": f"Bearer {token}"} if token else {}
        )
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


@pytest.mark.parametrize("engine", ["lean", "aiohttp"])
def test_only_the_aiohttp_engine_loads_aiohttp(
    engine: str, fake_idp: FakeIdP, demo_upstream: str, tmp_path: Path
) -> None:
    from .proxy_harness import base_document

    proxy = ProxyProcess(base_document(fake_idp.issuer, demo_upstream, engine), tmp_path)
    proxy.write_config(proxy.document)
    dump = tmp_path / "modules.json"
    env = {**os.environ, "MODULES_DUMP": str(dump)}
    env.pop("AUTHGATE__SERVER__ENGINE", None)
    process = ServerProcess(
        [PYTHON, "-c", BOOTSTRAP, "proxy", "--config", str(proxy.config_path)],
        tmp_path / "proxy.log",
        env=env,
    ).start()
    try:
        wait_for(f"{proxy.admin_url}/readyz", timeout=30, proc=process.proc)
        assert _request(proxy.url, fake_idp.mint()) == 200
        assert _request(proxy.url) == 401
        status, body = http_get(f"{proxy.admin_url}/metrics")
        assert status == 200 and b"authgate_requests_total" in body
        process.signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0, process.log()
    finally:
        process.stop()
    modules = set(json.loads(dump.read_text()))
    assert "authgate.proxy.runner" in modules  # the dump is of the real proxy process
    loaded = sorted(m for m in modules if m == "aiohttp" or m.startswith("aiohttp."))
    if engine == "lean":
        assert loaded == [], loaded
    else:
        assert "aiohttp" in loaded


def _admin_json(proxy: ProxyProcess, path: str) -> tuple[int, Any]:
    status, body = http_get(f"{proxy.admin_url}{path}", timeout=5)
    return status, json.loads(body) if body else None


def _worker_pids(supervisor: int) -> list[int]:
    children = Path(f"/proc/{supervisor}/task/{supervisor}/children").read_text().split()
    return sorted(int(pid) for pid in children)


@pytest.mark.parametrize("engine", ["lean"])  # the supervisor is engine-independent
def test_workers_answer_as_one_pod(proxy_factory: Any, fake_idp: FakeIdP, engine: str) -> None:
    proxy = proxy_factory(server={"workers": 2})
    assert proxy.process is not None and proxy.process.proc is not None
    supervisor = proxy.process.proc.pid
    workers = _worker_pids(supervisor)
    assert len(workers) == 2, proxy.log()[-3000:]
    status, ready = _admin_json(proxy, "/readyz")
    assert status == 200 and [w["worker"] for w in ready["workers"]] == [0, 1], ready

    token = fake_idp.mint()
    for _ in range(20):  # fresh connections: the kernel spreads them over both workers
        assert _request(proxy.url, token) == 200
    exposition = proxy.metrics()
    served = [
        line
        for line in exposition.splitlines()
        if line.startswith('authgate_requests_total{outcome="allowed"')
    ]
    assert {line.split('worker="')[1][0] for line in served} <= {"0", "1"} and served
    total = sum(float(line.rsplit(" ", 1)[1]) for line in served)
    assert total == 20, served
    assert exposition.count("# TYPE authgate_jwks_keys gauge") == 1

    # A worker that cannot answer makes the pod unready, and ready again once it can.
    os.kill(workers[1], signal.SIGSTOP)
    try:
        status, body = _admin_json(proxy, "/readyz")
        assert status == 503 and body["reason"] == "worker 1: no_answer", body
    finally:
        os.kill(workers[1], signal.SIGCONT)
    wait_for(f"{proxy.admin_url}/readyz", timeout=10)

    # A worker that dies takes the pod down: not healthy, others drained, non-zero exit.
    os.kill(workers[0], signal.SIGKILL)
    code = proxy.process.wait(timeout=30)
    assert code != 0
    time.sleep(0.2)
    assert (
        not Path(f"/proc/{workers[1]}").exists()
        or "zombie" in Path(f"/proc/{workers[1]}/status").read_text()
    )

"""Starting and stopping everything the benchmark measures.

Each :class:`Service` is a real process on a loopback port with its output in
a log file under the run's work directory:

* ``upstream`` — nginx serving ``/small`` (1 KiB) and ``/large`` (1 MiB) and
  passing ``/ws`` to the WebSocket echo (:mod:`bench.wsecho`);
* ``nginx`` — a second nginx doing plain reverse proxying (the floor any proxy costs);
* ``authgate-*`` — ``python -m authgate proxy --config FILE`` with the
  aiohttp or the lean engine and 1 or N workers;
* ``oauth2-proxy`` — v7 with ``--skip-jwt-bearer-tokens``: bearer JWTs are
  verified against the issuer's JWKS, no session, no cookie.

All proxies point at the same upstream and the same issuer (:mod:`bench.idp`).
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .procstats import TreeStats, tree_stats
from .tokens import AUDIENCE

__all__ = ["BenchError", "Service", "Stack", "authgate_service", "free_port"]

SMALL_BYTES = 1024
LARGE_BYTES = 1024 * 1024


class BenchError(RuntimeError):
    """The benchmark cannot run (missing tool, a contender failed to start)."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def http_status(port: int, path: str, headers: dict[str, str] | None = None) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        resp.read()
        return resp.status
    except OSError:
        return 0
    finally:
        conn.close()


@dataclass
class Service:
    name: str
    argv: list[str]
    port: int
    workdir: Path
    ready_port: int | None = None
    ready_path: str = "/"
    env: dict[str, str] | None = None
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path = field(init=False)
    #: Seconds from ``Popen`` to the first 200 on the ready path (for authgate
    #: ``/readyz``: listener up and keys loaded), polled every 5 ms.
    start_seconds: float | None = None

    def __post_init__(self) -> None:
        self.log_path = self.workdir / f"{self.name}.log"

    def start(self, timeout: float = 30.0) -> Service:
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                self.argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **(self.env or {})},
                start_new_session=True,
            )
        started = time.monotonic()
        deadline = started + timeout
        port = self.ready_port or self.port
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"{self.name} exited ({self.proc.returncode}):\n{self.log()}")
            if http_status(port, self.ready_path) == 200:
                self.start_seconds = time.monotonic() - started
                return self
            time.sleep(0.005)
        raise BenchError(f"{self.name} not ready on port {port} after {timeout}s:\n{self.log()}")

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stats(self) -> TreeStats:
        return tree_stats(self.pid)

    def stop(self) -> None:
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # our own session only
            proc.wait(timeout=5)


def _nginx_conf(workdir: Path, name: str, server_block: str, extra_http: str = "") -> Path:
    conf = workdir / f"{name}.conf"
    conf.write_text(
        f"""worker_processes 1;
pid {workdir}/{name}.pid;
error_log {workdir}/{name}-error.log warn;
daemon off;
events {{ worker_connections 8192; }}
http {{
  access_log off;
  keepalive_requests 10000000;
  keepalive_timeout 300s;
  default_type application/octet-stream;
  client_body_temp_path {workdir}/{name}-body;
  proxy_temp_path {workdir}/{name}-proxy;
  {extra_http}
  {server_block}
}}
"""
    )
    return conf


def nginx_upstream(workdir: Path, nginx: str, port: int, ws_port: int) -> Service:
    # nginx started as root serves as "nobody": the tree must be world-readable.
    workdir.chmod(0o755)
    www = workdir / "www"
    www.mkdir(mode=0o755, exist_ok=True)
    (www / "small").write_bytes(b"s" * SMALL_BYTES)
    (www / "large").write_bytes(b"l" * LARGE_BYTES)
    (www / "ready").write_bytes(b"ok")
    conf = _nginx_conf(
        workdir,
        "upstream",
        f"""server {{
    listen 127.0.0.1:{port};
    root {www};
    location / {{ }}
    location /ws {{
      proxy_pass http://127.0.0.1:{ws_port};
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection "upgrade";
      proxy_read_timeout 300s;
    }}
  }}""",
    )
    return Service(
        "upstream", [nginx, "-c", str(conf), "-p", str(workdir)], port, workdir, ready_path="/ready"
    )


def nginx_passthrough(workdir: Path, nginx: str, port: int, upstream_port: int) -> Service:
    conf = _nginx_conf(
        workdir,
        "nginx",
        f"""server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://up;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }}
    location /ws {{
      proxy_pass http://up;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection "upgrade";
      proxy_read_timeout 300s;
    }}
  }}""",
        extra_http=f"upstream up {{ server 127.0.0.1:{upstream_port}; keepalive 256; }}",
    )
    return Service(
        "nginx", [nginx, "-c", str(conf), "-p", str(workdir)], port, workdir, ready_path="/ready"
    )


def authgate(
    workdir: Path,
    name: str,
    *,
    engine: str,
    workers: int,
    port: int,
    upstream_port: int,
    issuer: str,
) -> Service:
    admin_port = free_port()
    document = {
        "apiVersion": "authgate.io/v1alpha1",
        "kind": "ProxyConfig",
        "server": {"engine": engine, "workers": workers},
        "listen": {"host": "127.0.0.1", "port": port},
        "admin": {"host": "127.0.0.1", "port": admin_port},
        "upstream": {"url": f"http://127.0.0.1:{upstream_port}"},
        "oidc": {"issuer": issuer, "client_id": AUDIENCE},
        "limits": {"max_in_flight": 100000},
    }
    return authgate_service(workdir, name, document)


def authgate_service(workdir: Path, name: str, document: dict[str, Any]) -> Service:
    """``authgate proxy`` on ``document`` (written to ``workdir/<name>.yaml``), ready
    when its admin port's ``/readyz`` answers; every authgate contender starts so."""
    config = workdir / f"{name}.yaml"
    config.write_text(yaml.safe_dump(document))
    argv = [
        # AUTHGATE_BENCH_PYTHON: another interpreter (or wrapper) to compare a
        # different build of authgate against the same stack.
        os.environ.get("AUTHGATE_BENCH_PYTHON", sys.executable),
        "-m",
        "authgate",
        "proxy",
        "--config",
        str(config),
        "--log-level",
        "WARNING",
    ]
    port = int(document["listen"]["port"])
    admin_port = int(document["admin"]["port"])
    return Service(name, argv, port, workdir, ready_port=admin_port, ready_path="/readyz")


def oauth2_proxy(
    workdir: Path, binary: str, *, port: int, upstream_port: int, issuer: str
) -> Service:
    argv = [
        binary,
        f"--http-address=127.0.0.1:{port}",
        f"--upstream=http://127.0.0.1:{upstream_port}/",
        "--provider=oidc",
        f"--oidc-issuer-url={issuer}",
        f"--client-id={AUDIENCE}",
        "--client-secret=bench-not-a-secret",
        "--cookie-secret=" + "0123456789abcdef0123456789abcdef",
        "--cookie-secure=false",
        "--email-domain=*",
        "--skip-jwt-bearer-tokens=true",
        "--insecure-oidc-allow-unverified-email=true",
        "--skip-provider-button=true",
        "--request-logging=false",
        "--auth-logging=false",
        "--standard-logging=false",
        "--set-xauthrequest=true",
        "--pass-user-headers=true",
        "--ping-path=/ping",
    ]
    return Service("oauth2-proxy", argv, port, workdir, ready_path="/ping")


def find_tool(name: str, env_var: str | None = None) -> str | None:
    if env_var and os.environ.get(env_var) and os.access(os.environ[env_var], os.X_OK):
        return os.environ[env_var]
    found = shutil.which(name)
    if found:
        return found
    for candidate in (Path("/usr/sbin") / name, Path.home() / ".cache/authgate/oha/bin" / name):
        if candidate.exists():
            return str(candidate)
    return None


@dataclass
class Stack:
    """Every running service of one benchmark run."""

    services: dict[str, Service] = field(default_factory=dict)

    def add(self, service: Service) -> Service:
        self.services[service.name] = service  # registered first: stopped even if start fails
        return service.start()

    def stop(self) -> None:
        for service in reversed(list(self.services.values())):
            service.stop()

    def describe(self) -> str:
        return json.dumps({n: s.port for n, s in self.services.items()})

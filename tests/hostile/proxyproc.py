"""The proxy as a real child process: ``python -m authgate proxy --config FILE``.

:class:`ProxyProcess` writes the config document, starts the process with its
stdout/stderr captured to files (so tests can assert a token never appears in
them), waits for ``/readyz``, and exposes what fault tests measure: the pid,
open file descriptors (``/proc/<pid>/fd``), RSS, metrics, signals and config
rewrites (atomic rename, as a ConfigMap update does).
"""

from __future__ import annotations

import copy
import http.client
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from .servers import free_port

ROOT = Path(__file__).resolve().parents[2]


def deep_merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def base_config(issuer: str, upstream_url: str, engine: str) -> dict[str, Any]:
    return {
        "apiVersion": "authgate.io/v1alpha1",
        "kind": "ProxyConfig",
        "server": {"engine": engine, "workers": 1},
        "listen": {"host": "127.0.0.1", "port": free_port()},
        "admin": {"host": "127.0.0.1", "port": free_port()},
        "upstream": {
            "url": upstream_url,
            "connect_timeout_seconds": 2,
            "read_timeout_seconds": 5,
            "max_connections": 64,
        },
        "oidc": {"issuer": issuer, "client_id": "authgate-cli", "audience": ["api://authgate"]},
        "keys": {"fetch_timeout_seconds": 2, "unknown_kid_cooldown_seconds": 30},
        "authorization": {
            "public_paths": ["/apis/auth/discovery", "/healthz", "/readyz", "/public/"],
            "rules": [
                {
                    "path_prefix": "/apis/files/",
                    "read_scopes": ["files:read"],
                    "write_scopes": ["files:write"],
                },
                {"path_prefix": "/apis/admin/", "groups": ["platform-admins"]},
            ],
        },
    }


class ProxyError(RuntimeError):
    pass


class ProxyProcess:
    def __init__(self, config: dict[str, Any], workdir: Path, name: str = "proxy") -> None:
        self.config = config
        self.workdir = workdir
        self.name = name
        workdir.mkdir(parents=True, exist_ok=True)
        self.config_path = workdir / f"{name}.yaml"
        self.stdout_path = workdir / f"{name}.stdout.log"
        self.stderr_path = workdir / f"{name}.stderr.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.write_config(config)

    # -- config ----------------------------------------------------------------
    def write_config(self, config: Mapping[str, Any] | str) -> None:
        """Atomically replace the config file (write + rename, like a ConfigMap)."""
        text = config if isinstance(config, str) else yaml.safe_dump(dict(config))
        tmp = self.config_path.with_suffix(".tmp")
        tmp.write_text(text)
        os.replace(tmp, self.config_path)
        if not isinstance(config, str):
            self.config = dict(config)

    @property
    def port(self) -> int:
        return int(self.config["listen"]["port"])

    @property
    def admin_port(self) -> int:
        return int(self.config["admin"]["port"])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- lifecycle -------------------------------------------------------------
    def start(self, wait_ready: bool = True, timeout: float = 30) -> ProxyProcess:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        out = open(self.stdout_path, "ab")
        err = open(self.stderr_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "authgate", "proxy", "--config", str(self.config_path)],
            stdout=out,
            stderr=err,
            cwd=ROOT,
            env=env,
        )
        out.close()
        err.close()
        if wait_ready:
            self.wait_ready(timeout)
        else:
            self.wait_listening(timeout)
        return self

    def wait_listening(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive()
            if self.admin_status("/healthz") is not None:
                return
            time.sleep(0.1)
        raise ProxyError(f"{self.name}: admin port never answered\n{self.tail()}")

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive()
            if self.admin_status("/readyz") == 200:
                return
            time.sleep(0.1)
        raise ProxyError(f"{self.name}: never became ready\n{self.tail()}")

    def _check_alive(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise ProxyError(f"{self.name} exited with {self.proc.returncode}\n{self.tail()}")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def signal(self, sig: int = signal.SIGTERM) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def wait_exit(self, timeout: float = 60) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout)

    def stop(self, timeout: float = 30) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)

    # -- observation -----------------------------------------------------------
    def logs(self) -> str:
        text = ""
        for p in (self.stdout_path, self.stderr_path):
            if p.exists():
                text += p.read_text(errors="replace")
        return text

    def tail(self, n: int = 60) -> str:
        return "\n".join(self.logs().splitlines()[-n:])

    def admin_get(self, path: str, timeout: float = 5) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.admin_port, timeout=timeout)
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def admin_status(self, path: str) -> int | None:
        try:
            return self.admin_get(path, timeout=2)[0]
        except OSError:
            return None

    def metrics(self) -> dict[str, float]:
        """Prometheus text → ``{"name{labels}": value}``."""
        _, body = self.admin_get("/metrics")
        out: dict[str, float] = {}
        for line in body.decode().splitlines():
            if line and not line.startswith("#"):
                key, _, value = line.rpartition(" ")
                try:
                    out[key] = float(value)
                except ValueError:
                    pass
        return out

    def metric_sum(self, prefix: str, **labels: str) -> float:
        total = 0.0
        for key, value in self.metrics().items():
            name = key.split("{", 1)[0]
            if name != prefix:
                continue
            if all(f'{k}="{v}"' in key for k, v in labels.items()):
                total += value
        return total

    def fd_count(self) -> int:
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def socket_count(self) -> int:
        n = 0
        for fd in os.listdir(f"/proc/{self.pid}/fd"):
            try:
                if os.readlink(f"/proc/{self.pid}/fd/{fd}").startswith("socket:"):
                    n += 1
            except OSError:
                pass
        return n

    def rss_bytes(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise ProxyError("no VmRSS")

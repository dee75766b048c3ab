"""Real proxy processes for the proxy-facing suites: documents, the process, a fleet.

Everything here starts an actual process on a free loopback port and waits
for it with a bounded poll; logs go to files that are printed on failure. The
generic pieces live in :mod:`tests.support` (processes and the demo service, ports,
the loopback IdP; raw HTTP is :mod:`tests.support.rawhttp`) and are re-exported here,
for the suites that import them from the harness.
"""

from __future__ import annotations

import copy
import os
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.support.idp import AUDIENCE, LocalIdP
from tests.support.ports import free_port
from tests.support.processes import PYTHON, ROOT, ServerProcess, demo_service, http_get, wait_for

__all__ = [
    "AUDIENCE",
    "CLIENT_ID",
    "HERE",
    "PYTHON",
    "ROOT",
    "FakeIdP",
    "ProxyError",
    "ProxyFleet",
    "ProxyProcess",
    "ServerProcess",
    "base_config",
    "base_document",
    "deep_merge",
    "demo_service",
    "free_port",
    "http_get",
    "listening_document",
    "metric_value",
    "wait_for",
]

HERE = Path(__file__).resolve().parent
CLIENT_ID = "authgate-cli"


# --------------------------------------------------------------------------- the IdP

#: The proxy suites' name for the shared loopback IdP (:class:`tests.support.idp.LocalIdP`;
#: the ``fake_idp`` fixture serves it with ``realm=""``, so its issuer is its origin).
FakeIdP = LocalIdP


# --------------------------------------------------------------------------- the proxy


def deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(dict(base))
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def listening_document(engine: str) -> dict[str, Any]:
    """The head of every test proxy document: one worker of ``engine`` on free loopback
    ports (listener and admin); a suite adds its upstream, IdP and policy."""
    return {
        "apiVersion": "authgate.io/v1alpha1",
        "kind": "ProxyConfig",
        "server": {"engine": engine, "workers": 1},
        "listen": {"host": "127.0.0.1", "port": free_port()},
        "admin": {"host": "127.0.0.1", "port": free_port()},
    }


def base_document(issuer: str, upstream: str, engine: str) -> dict[str, Any]:
    return {
        **listening_document(engine),
        "upstream": {"url": upstream, "connect_timeout_seconds": 2, "read_timeout_seconds": 3},
        "auth_enabled": True,
        "oidc": {"issuer": issuer, "client_id": CLIENT_ID, "audience": [AUDIENCE]},
        "keys": {"refresh_interval_seconds": 300, "unknown_kid_cooldown_seconds": 30},
        "authorization": {
            "rules": [
                {
                    "path_prefix": "/apis/files/",
                    "read_scopes": ["files:read"],
                    "write_scopes": ["files:write"],
                },
            ],
        },
        "limits": {"drain_timeout_seconds": 5},
    }


def base_config(issuer: str, upstream: str, engine: str) -> dict[str, Any]:
    """The hostile and fault suites' defaults: :func:`base_document` plus a public
    prefix, an admin-group rule, a 64-connection pool and the default drain time."""
    document = deep_merge(
        base_document(issuer, upstream, engine),
        {
            "upstream": {"read_timeout_seconds": 5, "max_connections": 64},
            "keys": {"fetch_timeout_seconds": 2},
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
        },
    )
    del document["limits"]
    return document


class ProxyError(RuntimeError):
    """The proxy process exited, or never answered, while a test waited for it."""


@dataclass
class ProxyProcess:
    """``python -m authgate proxy --config FILE`` as a child process.

    It writes the config document (:attr:`config_path`; rewrites are atomic renames,
    as a ConfigMap update is), captures stdout and stderr in ``<name>.log`` (so
    tests can assert a token never appears there), waits for ``/readyz`` and
    exposes what fault tests measure: pid, open descriptors, RSS, metrics, signals.
    """

    document: dict[str, Any]
    workdir: Path
    process: ServerProcess | None = None
    name: str = "proxy"

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)

    @property
    def config_path(self) -> Path:
        """``config.yaml`` for the default name (tests rebuild it as a ConfigMap volume),
        ``<name>.yaml`` otherwise, so several proxies can share a workdir."""
        return self.workdir / ("config.yaml" if self.name == "proxy" else f"{self.name}.yaml")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def port(self) -> int:
        return int(self.document["listen"]["port"])

    @property
    def admin_port(self) -> int:
        return int(self.document["admin"]["port"])

    @property
    def admin_url(self) -> str:
        return f"http://127.0.0.1:{self.admin_port}"

    @property
    def proc(self) -> subprocess.Popen[bytes] | None:
        return self.process.proc if self.process is not None else None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    # -- config ------------------------------------------------------------------------------
    def write_config(self, document: Mapping[str, Any] | str) -> None:
        """Atomic replace (write a temp file, rename over), as editors and kubelet do.
        A string is written verbatim (for broken YAML); a mapping becomes :attr:`document`."""
        text = (
            document
            if isinstance(document, str)
            else yaml.safe_dump(dict(document), sort_keys=False)
        )
        tmp = self.config_path.with_suffix(".tmp")
        tmp.write_text(text)
        os.replace(tmp, self.config_path)
        if not isinstance(document, str):
            self.document = dict(document)

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self, *, wait_ready: bool = True, timeout: float = 30) -> ProxyProcess:
        """Start the process; wait for ``/readyz`` (or, without ``wait_ready``, for the
        admin listener's ``/healthz``, since a proxy whose IdP is down never gets ready)."""
        if not self.config_path.exists():
            self.write_config(self.document)
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        env.pop("AUTHGATE__SERVER__ENGINE", None)
        self.process = ServerProcess(
            [PYTHON, "-m", "authgate", "proxy", "--config", str(self.config_path)],
            self.workdir / f"{self.name}.log",
            env=env,
        ).start()
        if wait_ready:
            self.wait_ready(timeout)
        else:
            self.wait_listening(timeout)
        return self

    def _wait_admin(self, path: str, ok: set[int] | None, what: str, timeout: float) -> None:
        """Poll ``path`` on the admin port until it answers one of ``ok`` (``None``: anything)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise ProxyError(f"{self.name} exited with {self.proc.returncode}\n{self.tail()}")
            status = http_get(f"{self.admin_url}{path}", timeout=1.0)[0]
            if status and (ok is None or status in ok):
                return
            time.sleep(0.05)
        raise ProxyError(f"{self.name}: {what} within {timeout}s\n{self.tail()}")

    def wait_ready(self, timeout: float = 30) -> None:
        self._wait_admin("/readyz", {200}, "never became ready", timeout)

    def wait_listening(self, timeout: float = 30) -> None:
        self._wait_admin("/healthz", None, "admin port never answered", timeout)

    def signal(self, sig: int = signal.SIGTERM) -> None:
        assert self.process is not None
        self.process.signal(sig)

    def wait_exit(self, timeout: float = 60) -> int:
        assert self.process is not None
        return self.process.wait(timeout)

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()

    # -- observation -------------------------------------------------------------------------
    def log(self) -> str:
        return self.process.log() if self.process else ""

    def tail(self, n: int = 60) -> str:
        return "\n".join(self.log().splitlines()[-n:])

    def admin_status(self, path: str) -> int | None:
        status = http_get(f"{self.admin_url}{path}", timeout=2.0)[0]
        return status or None

    def metrics(self) -> str:
        status, body = http_get(f"{self.admin_url}/metrics")
        assert status == 200
        return body.decode()

    def metric_sum(self, name: str, **labels: str) -> float:
        """The sum of every sample of ``name`` whose labels include ``labels``."""
        total = 0.0
        for line in self.metrics().splitlines():
            if not line or line.startswith("#"):
                continue
            key, _, value = line.rpartition(" ")
            if key.split("{", 1)[0] == name and all(f'{k}="{v}"' in key for k, v in labels.items()):
                total += float(value)
        return total

    def _fds(self) -> list[str]:
        return os.listdir(f"/proc/{self.pid}/fd")

    def fd_count(self) -> int:
        return len(self._fds())

    def socket_count(self) -> int:
        count = 0
        for fd in self._fds():
            try:
                count += os.readlink(f"/proc/{self.pid}/fd/{fd}").startswith("socket:")
            except OSError:
                pass
        return count

    def rss_bytes(self) -> int:
        assert self.process is not None
        return self.process.rss_kib() * 1024


def metric_value(exposition: str, name: str, **labels: str) -> float:
    """The value of one sample in a text exposition (0 when absent)."""
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in exposition.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        head, _, value = line.rpartition(" ")
        sample, _, label_part = head.partition("{")
        if sample != name:
            continue
        got = ",".join(sorted(p for p in label_part.rstrip("}").split(",") if p))
        if got == want:
            return float(value)
    return 0.0


class ProxyFleet:
    """The proxies one fixture starts, each in a work directory of its own under
    ``root``, all stopped together at teardown.

    Every proxy-starting fixture (the proxy, browser, fault and workload suites)
    needs the same list-start-stop bookkeeping; it is written once here.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.started: list[ProxyProcess] = []

    def start(
        self,
        document: dict[str, Any],
        *,
        workdir: str,
        name: str = "proxy",
        wait_ready: bool = True,
        timeout: float = 30,
    ) -> ProxyProcess:
        """Start a proxy on ``document`` in ``root/workdir`` and wait for it; it is stopped
        with the fleet even when waiting fails."""
        proxy = ProxyProcess(document, self.root / workdir, name=name)
        self.started.append(proxy)
        return proxy.start(wait_ready=wait_ready, timeout=timeout)

    def stop(self) -> None:
        for proxy in self.started:
            proxy.stop()

    def __enter__(self) -> ProxyFleet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

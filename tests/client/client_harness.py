"""Helpers for the client suite: the CLI as a real subprocess, servers on loopback.

* :class:`Cli` runs ``python -m authgate ...`` with ``AUTHGATE_CONFIG`` in a
  temporary directory and a clean environment (no display, so no browser).
* :class:`ServerProcess` runs the real proxy (``python -m authgate proxy
  --config FILE``), the quickstart and the demo upstream, with logs.
* :class:`CannedServer` answers every request with one fixed response; it
  stands for what is *not* authgate (an HTML site, a broken discovery).
"""

from __future__ import annotations

import http.server
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from tests.support import processes

PYTHON = sys.executable
REPO = Path(__file__).resolve().parents[2]
EXAMPLE_CONFIG = REPO / "proxy" / "example-config.yaml"


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("AUTHGATE_")
        and k not in ("DISPLAY", "WAYLAND_DISPLAY", "SSL_CERT_FILE", "XDG_CONFIG_HOME")
    }
    env["PYTHONUNBUFFERED"] = "1"
    env["NO_COLOR"] = "1"
    env.update(extra or {})
    return env


class Cli:
    """``authgate`` as a user runs it, against one config file."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.config_path = workdir / "authgate" / "config.yaml"

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        return clean_env({"AUTHGATE_CONFIG": str(self.config_path), **(extra or {})})

    def argv(self, args: Sequence[str]) -> list[str]:
        return [PYTHON, "-m", "authgate", *args]

    def run(
        self,
        *args: str,
        input: str | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float = 90.0,
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.argv(args),
            input=input if input is not None else "",
            capture_output=True,
            text=True,
            env=self.env(env),
            timeout=timeout,
            cwd=self.workdir,
        )

    def start(self, *args: str, env: Mapping[str, str] | None = None) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.argv(args),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env(env),
            cwd=self.workdir,
        )

    def config(self) -> dict[str, Any]:
        loaded = yaml.safe_load(self.config_path.read_text())
        assert isinstance(loaded, dict)
        return loaded

    def user(self, name: str | None = None) -> dict[str, Any]:
        document = self.config()
        users = {u["name"]: u["user"] for u in document["users"]}
        return users[name or document["current-context"]]


def assert_clean_failure(
    result: subprocess.CompletedProcess[str], code: int, *phrases: str
) -> None:
    """Exit code as documented, an ``error:`` line, no traceback, each phrase present."""
    output = result.stdout + result.stderr
    assert result.returncode == code, output
    assert "Traceback" not in output, output
    assert "error: " in result.stderr, output
    for phrase in phrases:
        assert phrase in output, (phrase, output)


class LineReader:
    """Collects a process's stream in a thread, so a test can wait for a line."""

    def __init__(self, stream: Any) -> None:
        self.lines: list[str] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self._thread.start()

    def _pump(self, stream: Any) -> None:
        for line in stream:
            with self._lock:
                self.lines.append(line)

    def text(self) -> str:
        with self._lock:
            return "".join(self.lines)

    def wait_for(self, pattern: str, timeout: float = 60.0) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(pattern, self.text())
            if found:
                return found
            time.sleep(0.05)
        raise AssertionError(f"{pattern!r} not seen within {timeout}s in:\n{self.text()}")


class ServerProcess(processes.ServerProcess):
    """:class:`tests.support.processes.ServerProcess` in the client suite's clean
    environment and a session of its own, stopped by its own pid (15 s grace)."""

    def __init__(
        self, argv: Sequence[str], log_path: Path, env: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(list(argv), log_path, env=clean_env(env), new_session=True)

    def stop(self, timeout: float = 15.0) -> None:
        super().stop(timeout)


def proxy_document(
    *,
    port: int,
    admin_port: int,
    upstream: str,
    issuer: str,
    client_id: str,
    audience: Sequence[str],
    ca_file: str | None,
    default_scopes: str,
) -> dict[str, Any]:
    """The shipped example config with this test's endpoints (the config contract)."""
    document = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    document["listen"] = {"host": "127.0.0.1", "port": port}
    document["admin"] = {"host": "127.0.0.1", "port": admin_port}
    document["server"] = {"engine": "aiohttp", "workers": 1}
    document["upstream"]["url"] = upstream
    document["oidc"].update(
        issuer=issuer, client_id=client_id, audience=list(audience), default_scopes=default_scopes
    )
    document["keys"]["ca_file"] = ca_file
    document["limits"]["drain_timeout_seconds"] = 2
    assert isinstance(document, dict)
    return document


class CannedServer:
    """Answers every request with one fixed (status, content-type, body)."""

    def __init__(self, status: int, content_type: str, body: bytes) -> None:
        canned = (status, content_type, body)

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                code, kind, payload = canned
                self.send_response(code)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_POST = do_GET

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> CannedServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    @classmethod
    def json(cls, document: object, status: int = 200) -> CannedServer:
        return cls(status, "application/json", json.dumps(document).encode())

"""Child processes for tests: start one with its output in a log file, poll it over HTTP.

Every server a test starts as a real process (the proxy, the demo service, misbehaving
upstreams) runs through :class:`ServerProcess` and is waited for with :func:`wait_for`,
a bounded poll.
"""

from __future__ import annotations

import http.client
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["PYTHON", "ROOT", "ServerProcess", "http_get", "wait_for"]

#: The repository root (processes start there, so ``python -m authgate`` finds the tree).
ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable


def http_get(url: str, timeout: float = 2.0) -> tuple[int, bytes]:
    """A blocking GET for readiness polls (never raises on connection errors)."""
    host_port = url.split("//", 1)[1].split("/", 1)[0]
    path = "/" + url.split("//", 1)[1].split("/", 1)[1] if "/" in url.split("//", 1)[1] else "/"
    host, port = host_port.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read()
    except OSError:
        return 0, b""
    finally:
        conn.close()


def wait_for(url: str, *, status: int = 200, timeout: float = 20.0, proc: Any = None) -> None:
    deadline = time.monotonic() + timeout
    last = 0
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} was up")
        last, _ = http_get(url, timeout=1.0)
        if last == status:
            return
        time.sleep(0.05)
    raise TimeoutError(f"{url} did not answer {status} within {timeout}s (last {last})")


@dataclass
class ServerProcess:
    """A child process with its output in a log file."""

    argv: list[str]
    log_path: Path
    env: dict[str, str] | None = None
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> ServerProcess:
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            self.argv, stdout=self._log, stderr=subprocess.STDOUT, env=self.env, cwd=ROOT
        )
        return self

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def wait(self, timeout: float) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout=timeout)

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        if hasattr(self, "_log"):
            self._log.close()

    def status_kib(self, field: str) -> int:
        """A ``/proc/<pid>/status`` memory field (``VmRSS``, ``VmHWM`` …) in KiB (0: absent)."""
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        return 0

    def rss_kib(self) -> int:
        return self.status_kib("VmRSS")

    def hwm_kib(self) -> int:
        """The peak resident set size."""
        return self.status_kib("VmHWM")

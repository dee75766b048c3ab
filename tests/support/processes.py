"""Child processes for tests: start one with its output in a log file, poll it over HTTP.

Every server a test starts as a real process (the proxy, the demo service, misbehaving
upstreams, the client suite's proxies) runs through :class:`ServerProcess` and is waited
for with a bounded poll (:func:`wait_for`, :meth:`ServerProcess.wait_http`); a loopback
helper script runs through :func:`serve_python`, so no suite writes its own
start/wait/stop sequence.
"""

from __future__ import annotations

import contextlib
import http.client
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.ports import free_port

__all__ = [
    "PYTHON",
    "ROOT",
    "ServerProcess",
    "child_pytest",
    "demo_service",
    "http_get",
    "serve_python",
    "wait_for",
]

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
    except (OSError, http.client.HTTPException):
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
    """A child process with its output in a log file and no standard input.

    ``new_session`` puts it in a session of its own (the client suite's servers, so a
    signal to the test's process group never reaches them); it is still stopped by pid.
    """

    argv: list[str]
    log_path: Path
    env: dict[str, str] | None = None
    proc: subprocess.Popen[bytes] | None = None
    new_session: bool = False

    def start(self) -> ServerProcess:
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=self.env,
            cwd=ROOT,
            start_new_session=self.new_session,
        )
        return self

    def wait_http(self, url: str, timeout: float = 30.0) -> None:
        """Poll ``url`` until it answers anything below 500; fail with the log's tail
        when the process exits first or ``timeout`` passes."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(
                    f"{self.argv} exited {self.proc.returncode}:\n{self.log()[-4000:]}"
                )
            if 0 < http_get(url)[0] < 500:
                return
            time.sleep(0.1)
        raise AssertionError(f"{url} not up within {timeout}s:\n{self.log()[-4000:]}")

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


@contextlib.contextmanager
def serve_python(args: Sequence[str], log_path: Path, ready_path: str) -> Iterator[str]:
    """``python ARGS --port N`` on a free loopback port until the block ends; yields its
    URL once ``ready_path`` answers 200.  The one start/wait/stop sequence of the
    suites' helper servers (the demo service, misbehaving upstreams, landing pages)."""
    port = free_port()
    proc = ServerProcess([PYTHON, *args, "--port", str(port)], log_path).start()
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for(url + ready_path, proc=proc.proc)
        yield url
    finally:
        proc.stop()


def demo_service(workdir: Path) -> contextlib.AbstractContextManager[str]:
    """``python -m authgate.proxy.demo`` (the echo service) until the block ends; yields
    its URL once ``/ready`` answers. Its log is ``workdir/demo.log``."""
    return serve_python(["-m", "authgate.proxy.demo"], workdir / "demo.log", "/ready")


def child_pytest(target: str, basetemp: Path) -> subprocess.Popen[str]:
    """``python -m pytest TARGET -q`` as a child session (its own ``--basetemp``, no
    cache), output piped as text: the teardown smoke tests interrupt it midway and
    then check what it printed and what it left running."""
    return subprocess.Popen(
        [PYTHON, "-m", "pytest", target, "-q", "-p", "no:cacheprovider", f"--basetemp={basetemp}"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )

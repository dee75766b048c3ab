"""Child processes with log files, bounded waits and guaranteed teardown.

Every long-running component (etcd, kube-apiserver, Keycloak, dockerd) is a
`ManagedProcess`: its output goes to a file (shown when a test fails), it
runs in its own process group so its children die with it, and an `atexit`
hook stops anything still running if pytest exits without reaching the
fixture teardown.
"""

from __future__ import annotations

import atexit
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from .errors import ComponentFailed

_RUNNING: set[ManagedProcess] = set()


def tail(path: Path, lines: int = 60) -> str:
    """The last `lines` lines of a log file ('' if it does not exist)."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 64 * 1024))
            data = handle.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(data.splitlines()[-lines:])


class ManagedProcess:
    """One component process: started with a log file, stopped by its pid."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str | Path],
        log_file: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.argv = [str(a) for a in argv]
        self.log_file = log_file
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def start(self) -> None:
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            log.write(f"\n=== start {self.name}: {' '.join(self.argv)}\n".encode())
            log.flush()
            self._proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,  # own process group: children die with it
            )
        _RUNNING.add(self)

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def returncode(self) -> int | None:
        return self._proc.poll() if self._proc else None

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM the process group, then SIGKILL it after `timeout` seconds."""
        proc = self._proc
        _RUNNING.discard(self)
        if proc is None:
            return
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10.0)):
            if proc.poll() is not None:
                break
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                proc.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                continue
        # Members of the group that outlived the leader (a forked helper).
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self._proc = None

    def log_tail(self, lines: int = 60) -> str:
        return tail(self.log_file, lines)

    def wait_ready(
        self,
        check: Callable[[], bool],
        timeout: float,
        what: str,
        interval: float = 0.5,
    ) -> None:
        """Poll `check()` until true; fail with the log if it times out or the process dies."""
        deadline = time.monotonic() + timeout
        last_error = ""
        while time.monotonic() < deadline:
            if not self.alive():
                raise ComponentFailed(
                    f"{self.name} exited with code {self.returncode()} before {what}",
                    self.log_tail(),
                )
            try:
                if check():
                    return
            except Exception as exc:  # the component is still coming up
                last_error = f"{type(exc).__name__}: {exc}"
            time.sleep(interval)
        raise ComponentFailed(
            f"{self.name}: no {what} within {timeout:.0f}s (last error: {last_error or 'none'})",
            self.log_tail(),
        )


@atexit.register
def _stop_leftovers() -> None:
    for proc in list(_RUNNING):
        proc.stop(timeout=10.0)

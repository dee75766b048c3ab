"""A private Docker engine for the tests, started from Debian's `docker.io`.

dockerd runs with its own socket, pidfile and exec-root (short paths under
/tmp: unix socket paths are limited to 108 bytes), so it never touches a
system daemon. Its data-root lives in the cache outside the clone, so images
built by one session (the authgate image) are still there for the next.
Only one dockerd may own a data-root: a session that cannot take the
cache's lock (another session is running) falls back to a throwaway
data-root and re-imports the base image from the cached tarball.

There is no registry: the base image is the debootstrapped bookworm+python3
root filesystem that `make testenv` tars up, loaded with `docker import`.
iptables is left alone (`--iptables=false`), so containers reach nothing
outside this machine; use host networking or published loopback ports.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import IO, Any

from .components import binary, cache_dir, setting
from .errors import ComponentFailed, ComponentMissing
from .process import ManagedProcess

BASE_IMAGE = "authgate-base:bookworm"


class DockerEnv:
    """A running dockerd with the base image imported; see the module doc."""

    base_image = BASE_IMAGE

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.dockerd_bin = binary("AUTHGATE_DOCKERD", "dockerd")
        tarball = setting("AUTHGATE_BASE_IMAGE_TAR")
        if not tarball or not Path(tarball).is_file():
            raise ComponentMissing(
                f"base image tarball not found (AUTHGATE_BASE_IMAGE_TAR={tarball!r}); "
                "run `make testenv`"
            )
        self.base_image_tar = Path(tarball)
        self.exec_root = Path(tempfile.mkdtemp(prefix="agd-", dir="/tmp"))
        self.socket = self.exec_root / "docker.sock"
        self.host = f"unix://{self.socket}"
        self.pidfile = self.exec_root / "docker.pid"
        self._lock: IO[str] | None = None
        self.data_root = self._claim_data_root()
        self.process: ManagedProcess | None = None
        self._client: Any = None

    def _claim_data_root(self) -> Path:
        shared = cache_dir() / "docker"
        shared.mkdir(parents=True, exist_ok=True)
        lock = (shared / "data-root.lock").open("w")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            self.shared_data_root = False
            return self.directory / "docker-data"
        self._lock = lock
        self.shared_data_root = True
        return shared / "data-root"

    def start(self, timeout: float = 90.0) -> None:
        argv = [
            str(self.dockerd_bin),
            f"--data-root={self.data_root}",
            f"--exec-root={self.exec_root}",
            f"--host={self.host}",
            f"--pidfile={self.pidfile}",
            "--iptables=false",
            "--ip6tables=false",
        ]
        if not self.shared_data_root:
            argv.append("--bridge=none")  # docker0 belongs to the session owning the cache
        argv += (setting("AUTHGATE_DOCKERD_ARGS") or "").split()
        self.process = ManagedProcess("dockerd", argv, self.directory / "dockerd.log")
        self.process.start()
        self.process.wait_ready(lambda: bool(self.client().ping()), timeout, "API ping")
        self._ensure_base_image()

    def client(self) -> Any:
        """A docker SDK client for this engine."""
        if self._client is None:
            import docker

            self._client = docker.DockerClient(base_url=self.host, timeout=120)
        return self._client

    def _ensure_base_image(self) -> None:
        stamp = self.data_root / "authgate-base-image.stamp"
        source = f"{self.base_image_tar}:{self.base_image_tar.stat().st_size}"
        source += f":{int(self.base_image_tar.stat().st_mtime)}"
        have = {tag for image in self.client().images.list() for tag in image.tags}
        if BASE_IMAGE in have and stamp.is_file() and stamp.read_text() == source:
            return
        repository, tag = BASE_IMAGE.split(":")
        try:
            self.client().api.import_image_from_file(
                str(self.base_image_tar),
                repository=repository,
                tag=tag,
                changes=['CMD ["python3"]', "ENV LANG=C.UTF-8"],
            )
        except Exception as exc:
            raise ComponentFailed(f"docker import of {self.base_image_tar} failed: {exc}") from exc
        stamp.write_text(source)

    def environ(self) -> dict[str, str]:
        """Variables that point docker CLI, SDK and testcontainers at this engine."""
        return {"DOCKER_HOST": self.host, "TESTCONTAINERS_RYUK_DISABLED": "true"}

    def stop(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self.process is not None:
            self.process.stop(timeout=30)
            self.process = None
        if self._lock is not None:
            self._lock.close()  # releases the flock
            self._lock = None
        _unmount_below(self.exec_root)  # dockerd leaves netns/default bind-mounted
        shutil.rmtree(self.exec_root, ignore_errors=True)
        if not self.shared_data_root:
            _unmount_below(self.data_root)
            shutil.rmtree(self.data_root, ignore_errors=True)

    def log_files(self) -> list[Path]:
        return [self.directory / "dockerd.log"]

    def docker_cli_env(self) -> dict[str, str]:
        return {**os.environ, **self.environ()}


def _unmount_below(root: Path) -> None:
    """Unmount whatever a dead dockerd left mounted under `root`, deepest first."""
    prefix = f"{root}/"
    try:
        with open("/proc/mounts") as mounts:
            points = [line.split()[1] for line in mounts if line.split()[1].startswith(prefix)]
    except OSError:
        return
    for point in sorted(points, key=len, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True, timeout=30)

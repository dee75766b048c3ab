"""The token store: a kubeconfig-like YAML file of clusters, users and contexts.

Where: ``$AUTHGATE_CONFIG``, else ``$XDG_CONFIG_HOME/authgate/config.yaml``,
else ``~/.config/authgate/config.yaml``.

Why it is careful:

* It holds refresh tokens, so it is created ``0600`` in a ``0700`` directory,
  and a file that other users can read is *refused* (like ssh refuses a
  world-readable key) with the command that fixes it.
* Writes are atomic: a temporary file in the same directory, ``fsync``, then
  ``rename`` over the old one, so a crash or a full disk never leaves half a
  file.
* Several processes may refresh the same login at once (a CLI in a loop, SDK
  workers). Read-modify-write cycles hold an exclusive :mod:`filelock` lock on
  a sibling ``.lock`` file and re-read the file under it, so no update is lost.
* A corrupt file is refused with where it is broken and what to do, never a
  parser traceback.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import filelock
import yaml

from authgate.client.errors import ConfigFileError
from authgate.client.tokens import TokenSet
from authgate.core.contracts import API_VERSION

CONFIG_ENV = "AUTHGATE_CONFIG"
CONFIG_KIND = "ClientConfig"
LOCK_TIMEOUT_SECONDS = 30.0


def default_path() -> Path:
    explicit = os.environ.get(CONFIG_ENV, "").strip()
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME", "").strip() or os.path.join(
        os.path.expanduser("~"), ".config"
    )
    return Path(base) / "authgate" / "config.yaml"


@dataclass
class Cluster:
    base_url: str
    ca_file: str | None = None


@dataclass
class Context:
    cluster: str
    user: str


@dataclass
class ClientConfig:
    clusters: dict[str, Cluster] = field(default_factory=dict)
    users: dict[str, TokenSet] = field(default_factory=dict)
    contexts: dict[str, Context] = field(default_factory=dict)
    current_context: str | None = None

    def to_document(self) -> dict[str, Any]:
        def cluster_doc(value: Cluster) -> dict[str, Any]:
            doc: dict[str, Any] = {"base_url": value.base_url}
            if value.ca_file:
                doc["ca_file"] = value.ca_file
            return doc

        return {
            "apiVersion": API_VERSION,
            "kind": CONFIG_KIND,
            "current-context": self.current_context,
            "clusters": [
                {"name": name, "cluster": cluster_doc(value)}
                for name, value in sorted(self.clusters.items())
            ],
            "users": [
                {"name": name, "user": value.to_dict()}
                for name, value in sorted(self.users.items())
            ],
            "contexts": [
                {"name": name, "context": {"cluster": value.cluster, "user": value.user}}
                for name, value in sorted(self.contexts.items())
            ],
        }

    @classmethod
    def from_document(cls, document: Any) -> ClientConfig:
        """Parse a loaded YAML document; raises ValueError("<path>: <problem>")."""
        if document is None:
            return cls()
        if not isinstance(document, dict):
            raise ValueError("top level: must be a mapping")
        config = cls()
        current = document.get("current-context")
        if current is not None and not isinstance(current, str):
            raise ValueError("current-context: must be a string")
        config.current_context = current
        for index, name, body in _named_entries(document, "clusters", "cluster"):
            base_url = body.get("base_url")
            ca_file = body.get("ca_file")
            if not isinstance(base_url, str) or not base_url:
                raise ValueError(f"clusters[{index}].cluster.base_url: missing")
            if ca_file is not None and not isinstance(ca_file, str):
                raise ValueError(f"clusters[{index}].cluster.ca_file: must be a string")
            config.clusters[name] = Cluster(base_url=base_url, ca_file=ca_file)
        for index, name, body in _named_entries(document, "users", "user"):
            try:
                config.users[name] = TokenSet.from_dict(body)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"users[{index}].user.{exc}") from None
        for index, name, body in _named_entries(document, "contexts", "context"):
            cluster, user = body.get("cluster"), body.get("user")
            if not isinstance(cluster, str) or not isinstance(user, str):
                raise ValueError(f"contexts[{index}].context: needs 'cluster' and 'user'")
            config.contexts[name] = Context(cluster=cluster, user=user)
        return config


def _named_entries(
    document: dict[str, Any], section: str, key: str
) -> Iterator[tuple[int, str, dict[str, Any]]]:
    entries = document.get(section) or []
    if not isinstance(entries, list):
        raise ValueError(f"{section}: must be a list")
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise ValueError(f"{section}[{index}]: needs a 'name'")
        body = entry.get(key)
        if not isinstance(body, dict):
            raise ValueError(f"{section}[{index}].{key}: must be a mapping")
        yield index, entry["name"], body


class ConfigStore:
    """Loads, locks and atomically saves one config file."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else default_path()
        self.lock_path = self.path.with_name(self.path.name + ".lock")

    # -- reading -----------------------------------------------------------
    def _fix_hint(self) -> str:
        return f"fix it by hand, or move it aside (mv {self.path} {self.path}.bak) and log in again"

    def load(self) -> ClientConfig:
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return ClientConfig()
        except OSError as exc:
            raise ConfigFileError(f"cannot read {self.path}: {exc.strerror}") from None
        with os.fdopen(fd, "rb") as handle:
            self._check_private(os.fstat(handle.fileno()))
            raw = handle.read()
        try:
            document = yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark is not None else ""
            raise ConfigFileError(
                f"{self.path} is not valid YAML{where}", hint=self._fix_hint()
            ) from None
        try:
            return ClientConfig.from_document(document)
        except ValueError as exc:
            raise ConfigFileError(f"{self.path} is corrupt: {exc}", hint=self._fix_hint()) from None

    def _check_private(self, info: os.stat_result) -> None:
        if os.name != "posix":
            return
        if not stat.S_ISREG(info.st_mode):
            raise ConfigFileError(f"{self.path} is not a regular file")
        mode = stat.S_IMODE(info.st_mode)
        if mode & 0o077:
            raise ConfigFileError(
                f"{self.path} holds tokens but is accessible by other users "
                f"(mode {mode:04o}); refusing to use it",
                hint=f"run: chmod 600 {self.path}",
            )

    # -- writing -----------------------------------------------------------
    def _ensure_dir(self) -> None:
        directory = self.path.parent
        if not directory.exists():
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)

    def save(self, config: ClientConfig) -> None:
        """Atomically replace the file: tmp in the same dir, fsync, rename, fsync dir."""
        try:
            self._ensure_dir()
            text = yaml.safe_dump(config.to_document(), sort_keys=False, default_flow_style=False)
            fd, tmp = tempfile.mkstemp(
                dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp"
            )
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    os.fchmod(handle.fileno(), 0o600)
                    handle.write(text)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(tmp, self.path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
            dir_fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        except OSError as exc:
            raise ConfigFileError(f"cannot write {self.path}: {exc.strerror}") from None

    @contextlib.contextmanager
    def locked(self, timeout: float = LOCK_TIMEOUT_SECONDS) -> Iterator[None]:
        """Exclusive lock across processes (and threads) for a read-modify-write."""
        try:
            self._ensure_dir()
            lock = filelock.FileLock(str(self.lock_path), timeout=timeout, mode=0o600)
            lock.acquire()
        except filelock.Timeout:
            raise ConfigFileError(
                f"another authgate process has held {self.lock_path} for {timeout:.0f}s",
                hint="retry; if no authgate process is running, delete the .lock file",
            ) from None
        except OSError as exc:
            raise ConfigFileError(f"cannot lock {self.lock_path}: {exc.strerror}") from None
        try:
            yield
        finally:
            lock.release()

    @contextlib.contextmanager
    def edit(self) -> Iterator[ClientConfig]:
        """Lock, re-read, let the caller modify, save (only if no exception)."""
        with self.locked():
            config = self.load()
            yield config
            self.save(config)

"""Where the test environment's binaries are.

`scripts/testenv/setup.sh` (`make testenv`) builds everything into a cache
outside the clone and writes `env.sh` with one export per component. Tests
may run with that file sourced (as `make test` does) or not (an IDE running
pytest directly), so values come from the process environment first and
from `env.sh` second.
"""

from __future__ import annotations

import os
import shlex
import shutil
from functools import lru_cache
from pathlib import Path

from .errors import ComponentMissing


def cache_dir() -> Path:
    """`${XDG_CACHE_HOME:-~/.cache}/authgate`, the one cache every run shares."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "authgate"


def in_ci() -> bool:
    """True under `CI=true`, where a missing component fails instead of skipping."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


@lru_cache(maxsize=1)
def _env_file() -> dict[str, str]:
    path = cache_dir() / "env.sh"
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for line in path.read_text().splitlines():
        words = shlex.split(line, comments=True)
        if len(words) == 2 and words[0] == "export" and "=" in words[1]:
            name, _, value = words[1].partition("=")
            values[name] = value
    return values


def setting(name: str) -> str | None:
    """An env.sh export, overridden by the process environment."""
    return os.environ.get(name) or _env_file().get(name)


def executable(path: str | os.PathLike[str] | None, what: str) -> Path:
    """`path` as an executable file, or ComponentMissing naming `what`."""
    if path and os.access(path, os.X_OK) and Path(path).is_file():
        return Path(path)
    raise ComponentMissing(f"{what} not found (got {path!r}); run `make testenv`")


def binary(variable: str, name: str) -> Path:
    """The binary named by env var `variable`, else `name` on PATH."""
    value = setting(variable) or shutil.which(name)
    return executable(value, f"{name} (${variable})")


def kubebuilder_asset(name: str) -> Path:
    """`etcd` or `kube-apiserver` from `$KUBEBUILDER_ASSETS` (the envtest convention)."""
    assets = setting("KUBEBUILDER_ASSETS")
    if not assets:
        raise ComponentMissing("KUBEBUILDER_ASSETS is not set; run `make testenv`")
    return executable(Path(assets) / name, f"{name} in KUBEBUILDER_ASSETS={assets}")

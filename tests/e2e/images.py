"""Build the authgate image (and the demo app image) with the test Docker engine.

The build context is exactly what ``.dockerignore`` lets through, copied to a
temporary directory together with an offline wheelhouse: the test engine runs
with ``--iptables=false``, so a container (including a ``RUN`` step) reaches
nothing outside this machine, and the Dockerfile installs with
``pip --no-index`` from ``build/wheelhouse`` when that is present. The build
itself runs with ``network_mode=none``, which proves it is hermetic.

Images are tagged by a hash of the context (and the base image), so a rerun
with unchanged sources reuses the image instead of rebuilding it.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from docker.utils.build import exclude_paths

REPO = Path(__file__).resolve().parents[2]
DEMO_DIR = Path(__file__).resolve().parent / "demo_app"
PLATFORMS = ["manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64"]


class ImageBuildError(Exception):
    """docker build failed; the message ends with the tail of the build log."""


@dataclass(frozen=True)
class BuiltImage:
    tag: str
    size_bytes: int
    reused: bool  # True when an image for the same context hash already existed
    seconds: float

    @property
    def size_mib(self) -> float:
        return self.size_bytes / (1024 * 1024)


def context_files(root: Path) -> list[str]:
    """The relative paths Docker would send as the build context of ``root``."""
    patterns = [
        line.strip()
        for line in (root / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    return sorted(p for p in exclude_paths(str(root), patterns) if (root / p).is_file())


def context_hash(root: Path, files: list[str], *extra: str) -> str:
    digest = hashlib.sha256()
    for name in [*extra, *files]:
        digest.update(name.encode() + b"\0")
        path = root / name
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _run(argv: list[str], what: str) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        raise ImageBuildError(f"{what} failed ({result.returncode}):\n{result.stderr[-3000:]}")


def _dependency_wheels(cache: Path, pyproject: Path, authgate_wheel: Path) -> Path:
    """Manylinux cp311 wheels of every runtime dependency, cached per pyproject.toml."""
    key = hashlib.sha256(pyproject.read_bytes()).hexdigest()[:16]
    target = cache / f"wheelhouse-{key}"
    if (target / ".complete").is_file():
        return target
    partial = cache / f"wheelhouse-{key}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    argv = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--quiet",
        "--dest",
        str(partial),
        "--only-binary=:all:",
        "--python-version",
        "3.11",
        "--implementation",
        "cp",
        "--abi",
        "cp311",
    ]
    for platform in PLATFORMS:
        argv += ["--platform", platform]
    _run([*argv, str(authgate_wheel)], "pip download of the dependency wheels")
    for wheel in partial.glob("authgate-*.whl"):
        wheel.unlink()  # the project wheel is rebuilt from the context every time
    (partial / ".complete").touch()
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    return target


def _stream_build(client: Any, log_file: Path, **kwargs: Any) -> None:
    lines: list[str] = []
    error: str | None = None
    with log_file.open("w") as log:
        for chunk in client.api.build(decode=True, rm=True, forcerm=True, **kwargs):
            text = chunk.get("stream") or chunk.get("status") or ""
            if "error" in chunk:
                error = str(chunk["error"])
                text = error + "\n"
            log.write(text)
            lines.append(text)
    if error is not None:
        tail = "".join(lines)[-4000:]
        raise ImageBuildError(f"docker build failed: {error}\n--- build log tail ---\n{tail}")


def build_authgate_image(
    client: Any, base_image: str, cache: Path, log_dir: Path, repository: str = "authgate"
) -> BuiltImage:
    """The image from the repository's Dockerfile on ``base_image`` (reused when unchanged)."""
    import time

    started = time.monotonic()
    # A wheelhouse left in the clone by scripts/build-image.sh is not ours: the
    # test makes its own from exactly these sources.
    files = [
        f
        for f in context_files(REPO)
        if f not in ("Dockerfile", ".dockerignore") and not f.startswith("build/")
    ]
    key = context_hash(REPO, [*files, "Dockerfile", ".dockerignore"], base_image)
    tag = f"{repository}:ctx-{key}"
    existing = _find(client, tag)
    if existing is not None:
        return BuiltImage(tag, int(existing.attrs["Size"]), True, time.monotonic() - started)

    with tempfile.TemporaryDirectory(prefix="authgate-ctx-") as tmp:
        context = Path(tmp)
        for name in files:
            (context / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, context / name)
        for name in ("Dockerfile", ".dockerignore"):
            shutil.copy2(REPO / name, context / name)
        wheelhouse = context / "build" / "wheelhouse"
        wheelhouse.mkdir(parents=True)
        _run(
            [
                sys.executable,
                "-m",
                "pip",
                "wheel",
                "--quiet",
                "--no-deps",
                "--wheel-dir",
                str(wheelhouse),
                str(context),
            ],
            "pip wheel of authgate",
        )
        shutil.rmtree(context / "build" / "lib", ignore_errors=True)
        authgate_wheel = next(wheelhouse.glob("authgate-*.whl"))
        for wheel in _dependency_wheels(cache, REPO / "pyproject.toml", authgate_wheel).glob(
            "*.whl"
        ):
            shutil.copy2(wheel, wheelhouse / wheel.name)
        _stream_build(
            client,
            log_dir / "authgate-image-build.log",
            path=str(context),
            tag=tag,
            buildargs={"BASE_IMAGE": base_image, "REVISION": key},
            network_mode="none",
        )
    image = client.images.get(tag)
    return BuiltImage(tag, int(image.attrs["Size"]), False, time.monotonic() - started)


def build_demo_image(client: Any, authgate_tag: str, log_dir: Path) -> BuiltImage:
    """The demo echo service image (``authgate.proxy.demo`` on top of the authgate image)."""
    import time

    started = time.monotonic()
    key = context_hash(DEMO_DIR, ["Dockerfile"], authgate_tag)
    tag = f"authgate-demo:ctx-{key}"
    existing = _find(client, tag)
    if existing is not None:
        return BuiltImage(tag, int(existing.attrs["Size"]), True, time.monotonic() - started)
    _stream_build(
        client,
        log_dir / "demo-image-build.log",
        path=str(DEMO_DIR),
        tag=tag,
        buildargs={"AUTHGATE_IMAGE": authgate_tag},
        network_mode="none",
    )
    image = client.images.get(tag)
    return BuiltImage(tag, int(image.attrs["Size"]), False, time.monotonic() - started)


def _find(client: Any, tag: str) -> Any:
    import docker.errors

    try:
        return client.images.get(tag)
    except docker.errors.ImageNotFound:
        return None

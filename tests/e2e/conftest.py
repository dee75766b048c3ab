"""Fixtures of the end-to-end suite: the images, built once per content hash."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .images import BuiltImage, ImageBuildError, build_authgate_image, build_demo_image


@pytest.fixture(scope="session")
def e2e_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("e2e-logs")


def _cache_dir() -> Path:
    import os

    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    path = Path(base) / "authgate" / "e2e"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def authgate_image(docker_engine: Any, e2e_logs: Path) -> BuiltImage:
    """The repository's Dockerfile built on the debootstrapped base image."""
    try:
        image = build_authgate_image(
            docker_engine.client(), docker_engine.base_image, _cache_dir(), e2e_logs
        )
    except ImageBuildError as exc:
        pytest.fail(str(exc), pytrace=False)
    how = "reused (same context hash)" if image.reused else f"built in {image.seconds:.0f}s"
    print(f"\n[e2e] image {image.tag}: {image.size_mib:.1f} MiB, {how}")
    return image


@pytest.fixture(scope="session")
def demo_image(docker_engine: Any, authgate_image: BuiltImage, e2e_logs: Path) -> BuiltImage:
    try:
        return build_demo_image(docker_engine.client(), authgate_image.tag, e2e_logs)
    except ImageBuildError as exc:
        pytest.fail(str(exc), pytrace=False)

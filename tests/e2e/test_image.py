"""The container image: one image, three commands, non-root, read-only root FS.

Built from the repository's Dockerfile by the real Docker engine (on the
debootstrapped base image: no registry is reachable here).
"""

from __future__ import annotations

from typing import Any

import pytest

from .images import BuiltImage

# The first test pays for the image build: minutes on a cold cache.
pytestmark = [pytest.mark.e2e, pytest.mark.docker, pytest.mark.timeout(900)]


def _run(docker_engine: Any, image: str, args: list[str], **kwargs: Any) -> str:
    """Run the image to completion (read-only root, no network) and return its output."""
    client = docker_engine.client()
    container = client.containers.run(
        image,
        args,
        detach=True,
        read_only=True,
        network_mode="none",
        tmpfs={"/tmp": "rw,mode=1777,size=16m"},
        cap_drop=["ALL"],
        security_opt=["no-new-privileges"],
        **kwargs,
    )
    try:
        status = container.wait(timeout=120)
        output = container.logs().decode(errors="replace")
    finally:
        container.remove(force=True)
    assert status["StatusCode"] == 0, output
    return str(output)


def test_image_metadata(docker_engine: Any, authgate_image: BuiltImage) -> None:
    attrs = docker_engine.client().images.get(authgate_image.tag).attrs
    config = attrs["Config"]
    assert config["User"] == "65532:65532"
    assert config["Entrypoint"] == ["authgate"]
    labels = config["Labels"]
    assert labels["org.opencontainers.image.title"] == "authgate"
    assert labels["org.opencontainers.image.licenses"] == "Apache-2.0"
    assert "org.opencontainers.image.version" in labels
    print(f"\n[e2e] image size: {authgate_image.size_mib:.1f} MiB ({authgate_image.tag})")
    assert authgate_image.size_bytes > 0


def test_every_command_runs_read_only_as_nonroot(
    docker_engine: Any, authgate_image: BuiltImage
) -> None:
    assert _run(docker_engine, authgate_image.tag, ["--help"]).count("proxy") >= 1
    crd = _run(docker_engine, authgate_image.tag, ["operator", "crd"])
    assert "name: oidcproviders.authgate.io" in crd
    assert "--config" in _run(docker_engine, authgate_image.tag, ["proxy", "--help"])
    assert "login" in _run(docker_engine, authgate_image.tag, ["--help"])
    who = _run(docker_engine, authgate_image.tag, [], entrypoint=["id", "-un"])
    assert who.strip() == "nonroot"  # a named user: kopf's getpass.getuser() needs one


def test_proxy_rejects_a_bad_config_before_serving(
    docker_engine: Any, authgate_image: BuiltImage, tmp_path: Any
) -> None:
    """`authgate proxy` in the image loads and validates a config (exit 2 on errors)."""
    config = tmp_path / "config.yaml"
    config.write_text("apiVersion: authgate.io/v1alpha1\nkind: ProxyConfig\nlisten: {port: 0}\n")
    config.chmod(0o644)
    tmp_path.chmod(0o755)
    client = docker_engine.client()
    container = client.containers.run(
        authgate_image.tag,
        ["proxy", "--config", "/config/config.yaml"],
        detach=True,
        read_only=True,
        network_mode="none",
        volumes={str(tmp_path): {"bind": "/config", "mode": "ro"}},
    )
    try:
        status = container.wait(timeout=60)
        output = container.logs().decode(errors="replace")
    finally:
        container.remove(force=True)
    assert status["StatusCode"] == 2, output
    assert "oidc.issuer: required" in output

"""The private Docker engine runs the debootstrapped base image; testcontainers drives it."""

from __future__ import annotations

import httpx
import pytest

pytestmark = [pytest.mark.docker, pytest.mark.integration]


def test_container_runs_from_base_image(docker_engine) -> None:
    output = docker_engine.client().containers.run(
        docker_engine.base_image,
        ["python3", "-c", "print(1)"],
        remove=True,
        network_mode="host",
    )
    assert output == b"1\n"


def test_testcontainers_drives_the_engine(docker_engine) -> None:
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.wait_strategies import LogMessageWaitStrategy

    from tests.support.ports import free_port

    port = free_port()
    container = (
        DockerContainer(docker_engine.base_image)
        .with_command(["python3", "-u", "-m", "http.server", str(port), "--bind", "127.0.0.1"])
        .with_kwargs(network_mode="host")
        .waiting_for(LogMessageWaitStrategy("Serving HTTP").with_startup_timeout(30))
    )
    with container:
        response = httpx.get(f"http://127.0.0.1:{port}/", timeout=10)
        assert response.status_code == 200
        assert "Directory listing" in response.text

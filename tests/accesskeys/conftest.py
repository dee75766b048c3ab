"""Fixtures for the access-key tests on real parts (see ak_helpers)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from authgate.operator.accesskeys.crd import ACCESS_KEY_CRD_NAME
from authgate.operator.crd import CRD_NAME
from tests.accesskeys.ak_helpers import OperatorProcess, Providers, Sidecar

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def ak_crds(kube: Any) -> None:
    """The committed operator/crd.yaml: OIDCProvider and AccessKey."""
    kube.kubectl("apply", "-f", str(ROOT / "operator" / "crd.yaml"))
    for name in (CRD_NAME, ACCESS_KEY_CRD_NAME):
        kube.kubectl("wait", "--for=condition=Established", f"crd/{name}", "--timeout=60s")
    assert yaml.safe_load_all((ROOT / "operator" / "crd.yaml").read_text())


@pytest.fixture
def ak_namespace(kube: Any, ak_crds: None) -> str:
    name = f"ak-{uuid.uuid4().hex[:8]}"
    client.CoreV1Api(kube.api_client()).create_namespace({"metadata": {"name": name}})
    return name


@pytest.fixture
def providers(kube: Any, ak_namespace: str) -> Providers:
    return Providers(kube, ak_namespace)


@pytest.fixture
def operator_factory(
    kube: Any, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Callable[..., OperatorProcess]]:
    started: list[OperatorProcess] = []

    def start(namespace: str, *extra: str) -> OperatorProcess:
        op = OperatorProcess(kube, namespace, tmp_path, register_webhook=False)
        op.argv += ["--webhook-port", "0", *extra]
        started.append(op)
        return op.start()

    yield start
    for op in started:
        op.stop()
        if getattr(request.node, "rep_call_failed", False):
            print(f"--- operator log {op.log_file}\n{op.log()}")


@pytest.fixture(scope="session")
def echo_upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The demo echo service, started as the client suite starts it."""
    from tests.client.servers import running_demo

    with running_demo(tmp_path_factory.mktemp("ak-demo")) as url:
        yield url


@pytest.fixture
def sidecar_factory(
    providers: Providers, echo_upstream: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Callable[..., Sidecar]]:
    started: list[Sidecar] = []

    def start(name: str, engine: str = "aiohttp") -> Sidecar:
        car = Sidecar(
            providers, name, tmp_path / f"sidecar-{len(started)}", echo_upstream, engine
        ).start()
        started.append(car)
        return car

    yield start
    for car in started:
        car.stop()
        if getattr(request.node, "rep_call_failed", False):
            print(f"--- sidecar log\n{car.log()}")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed:
        item.rep_call_failed = True  # type: ignore[attr-defined]

"""Session-scoped fixtures for the real test environment (contract: docs/testenv-api.md).

The implementations live in `tests/testenv/`. A component that is not
installed skips its tests outside CI and fails them under `CI=true`; one
that is installed but will not start always fails, with its log. Every
process started here is stopped at session end, also when tests fail or
the run is interrupted (SIGTERM is turned into KeyboardInterrupt so pytest
still runs the teardowns; an atexit hook is the last resort).
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any, Protocol, TypeVar
from unittest import mock

import pytest

from .testenv import (
    ClusterEnv,
    ComponentFailed,
    DockerEnv,
    KeycloakEnv,
    KubeEnv,
    TestCA,
)
from .testenv.availability import require
from .testenv.components import binary
from .testenv.process import tail

# fixture name -> marker added automatically to every test that uses it
FIXTURE_MARKERS = {
    "kube": "k8s",
    "workload_kube": "k8s",
    "keycloak": "keycloak",
    "docker_engine": "docker",
    "helm_bin": "helm",
    "oauth2_proxy_bin": "integration",
    "cluster": "cluster",
}


class _Env(Protocol):
    def start(self) -> None: ...
    def stop(self) -> None: ...


E = TypeVar("E", bound=_Env)


def _start(factory: Callable[[], E]) -> E:
    env = require(factory)
    try:
        env.start()
    except ComponentFailed as exc:
        env.stop()
        pytest.fail(str(exc), pytrace=False)
    except BaseException:
        env.stop()
        raise
    return env


@contextlib.contextmanager
def _running(factory: Callable[[], E], end: Callable[[E], None] | None = None) -> Iterator[E]:
    """A session fixture's body: start the component, yield it, always stop it
    (``end`` instead of ``stop`` where the component holds more than processes)."""
    env = _start(factory)
    try:
        yield env
    finally:
        (end or type(env).stop)(env)


def pytest_configure(config: pytest.Config) -> None:
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:

        def _interrupt(signum: int, frame: Any) -> None:
            raise KeyboardInterrupt(f"signal {signum}")

        signal.signal(signal.SIGTERM, _interrupt)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Tests that start their own cluster in a child session run before this session
    # starts its cluster: one cluster per machine at a time (testenv/cluster.py).
    items.sort(key=lambda item: 0 if item.get_closest_marker("cluster_child") else 1)
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        for fixture, marker in FIXTURE_MARKERS.items():
            if fixture in names:
                item.add_marker(marker)
                item.add_marker("integration")
    # Tests that take a shared session component down (Keycloak, the API server) run
    # after every other test, in their collected order, instead of relying on file names.
    items.sort(key=lambda item: item.get_closest_marker("disruptive") is not None)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, None]:
    outcome = yield
    report = outcome.get_result()
    if not report.failed:
        return
    funcargs = getattr(item, "funcargs", {})
    for name in FIXTURE_MARKERS:
        env = funcargs.get(name)
        for log in getattr(env, "log_files", lambda: [])():
            report.sections.append((f"{Path(log).name} (tail)", tail(Path(log), 80)))


@pytest.fixture(scope="session")
def testenv_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("testenv")


@pytest.fixture(scope="session")
def test_ca(testenv_dir: Path) -> TestCA:
    return TestCA(testenv_dir / "ca")


@pytest.fixture(scope="session")
def kube(testenv_dir: Path, test_ca: TestCA) -> Iterator[KubeEnv]:
    with _running(lambda: KubeEnv(testenv_dir / "kube", test_ca)) as env:
        yield env


@pytest.fixture(scope="session")
def workload_kube(testenv_dir: Path, test_ca: TestCA) -> Iterator[KubeEnv]:
    """A second control plane of its own, for the service-account issuer tests:
    they restart its apiserver with a new signing key, which the shared `kube`
    must never see (and `kube` then stands for "another cluster")."""
    with _running(lambda: KubeEnv(testenv_dir / "workload-kube", test_ca)) as env:
        yield env


@pytest.fixture(scope="session")
def keycloak(testenv_dir: Path, test_ca: TestCA) -> Iterator[KeycloakEnv]:
    with _running(lambda: KeycloakEnv(testenv_dir / "keycloak", test_ca), KeycloakEnv.close) as env:
        yield env


@pytest.fixture(scope="session")
def docker_engine(testenv_dir: Path) -> Iterator[DockerEnv]:
    with _running(lambda: DockerEnv(testenv_dir / "docker")) as env:
        # testcontainers and the docker CLI read these; restored as they were
        with mock.patch.dict(os.environ, env.environ()):
            yield env


@pytest.fixture(scope="session")
def helm_bin() -> Path:
    return require(lambda: binary("AUTHGATE_HELM", "helm"))


@pytest.fixture(scope="session")
def oauth2_proxy_bin() -> Path:
    return require(lambda: binary("AUTHGATE_OAUTH2_PROXY", "oauth2-proxy"))


@pytest.fixture(scope="session")
def cluster(testenv_dir: Path, test_ca: TestCA) -> Iterator[ClusterEnv]:
    """The one-node cluster (control plane + kubelet node), once per session."""
    with _running(lambda: ClusterEnv(testenv_dir / "cluster", test_ca)) as env:
        print(f"\n[cluster] started in {env.started_seconds:.1f}s")
        yield env

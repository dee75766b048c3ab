"""Fixtures of the cluster suite: images in containerd, Keycloak on the bridge,
the chart installed as the README says, a provider, an injected Deployment.

Everything is session-scoped and built once; the test modules run in name
order (``test_a_*`` … ``test_z_*``), and the last one uninstalls the chart.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.charts import CHART, Helm
from tests.e2e.images import BuiltImage, ImageBuildError, build_authgate_image, build_demo_image
from tests.testenv import ClusterEnv, KeycloakEnv, TestCA
from tests.testenv.errors import ComponentFailed

from . import identity
from .workloads import (
    APP_NAMESPACE,
    PROVIDER,
    RELEASE,
    SYSTEM_NAMESPACE,
    Cluster,
    app_deployment,
    app_service,
    apply,
    provider_manifest,
    wait_for,
)

pytestmark = [pytest.mark.cluster]


def _e2e_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    path = Path(base) / "authgate" / "e2e"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _into_containerd(cluster: ClusterEnv, docker: Any, image: BuiltImage, work: Path) -> None:
    """`docker save` from the test engine, `ctr -n k8s.io images import` into the node."""
    if cluster.has_image(image.tag):
        return
    tar = work / (image.tag.replace(":", "_").replace("/", "_") + ".tar")
    with tar.open("wb") as out:
        for chunk in docker.client().images.get(image.tag).save(named=True):
            out.write(chunk)
    cluster.import_image(tar)
    tar.unlink()


@pytest.fixture(scope="session")
def cluster_images(
    cluster: ClusterEnv, docker_engine: Any, tmp_path_factory: pytest.TempPathFactory
) -> tuple[BuiltImage, BuiltImage]:
    """The authgate image (the repository's Dockerfile, unchanged) and the demo app image."""
    logs = tmp_path_factory.mktemp("cluster-images")
    try:
        authgate = build_authgate_image(
            docker_engine.client(), docker_engine.base_image, _e2e_cache(), logs
        )
        demo = build_demo_image(docker_engine.client(), authgate.tag, logs)
    except ImageBuildError as exc:
        pytest.fail(str(exc), pytrace=False)
    for image in (authgate, demo):
        _into_containerd(cluster, docker_engine, image, logs)
    return authgate, demo


@pytest.fixture(scope="session")
def cluster_keycloak(cluster: ClusterEnv, test_ca: TestCA, testenv_dir: Path) -> Iterator[Any]:
    """Keycloak on the bridge address: the one the pods (and the tests) can both reach."""
    env = KeycloakEnv(testenv_dir / "cluster-keycloak", test_ca, host=cluster.gateway)
    try:
        env.start()
    except ComponentFailed as exc:
        env.close()
        pytest.fail(str(exc), pytrace=False)
    try:
        yield env
    finally:
        env.close()


@pytest.fixture(scope="session")
def installed(
    cluster: ClusterEnv,
    cluster_images: tuple[BuiltImage, BuiltImage],
    cluster_keycloak: Any,
    helm_bin: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Cluster]:
    """`helm install` exactly as the README says (only the image is ours), provider Ready,
    the annotated demo Deployment rolled out behind its Service."""
    authgate, demo = cluster_images
    work = tmp_path_factory.mktemp("cluster-release")
    helm = Helm(helm_bin, kubeconfig=Path(cluster.kube.kubeconfig), home=work / "helm-home")
    repository, tag = authgate.tag.rsplit(":", 1)
    started = time.monotonic()
    helm.run(
        "install",
        RELEASE,
        str(CHART),
        "-n",
        SYSTEM_NAMESPACE,
        "--create-namespace",
        "--set",
        f"image.repository={repository}",
        "--set",
        f"image.tag={tag}",
        timeout=300,
    )
    state = Cluster(
        cluster=cluster,
        keycloak=cluster_keycloak,
        helm=helm,
        authgate=authgate,
        demo=demo,
        installed_at=started,
    )
    try:
        state.rollout(SYSTEM_NAMESPACE, f"deployment/{RELEASE}", timeout=300)
        cluster.kubectl("create", "namespace", APP_NAMESPACE)
        apply(cluster, provider_manifest(cluster_keycloak, ["platform:read"]))
        cluster.kubectl(
            "wait",
            "--for=condition=Ready",
            "--timeout=180s",
            f"oidcprovider/{PROVIDER}",
            "-n",
            APP_NAMESPACE,
            timeout=200,
        )
        apply(cluster, app_service())
        apply(cluster, app_deployment(demo.tag))
        state.rollout(APP_NAMESPACE, "deployment/echo", timeout=300)
        state.service_url = f"http://{state.cluster_ip(APP_NAMESPACE, 'echo')}"
        token = state.token("alice")
        wait_for(
            "the first authenticated 200",
            lambda: state.get("/api/orders", token).status_code == 200,
            timeout=120,
        )
        state.first_ok_seconds = time.monotonic() - started
        print(f"\n[cluster] helm install -> first authenticated 200: {state.first_ok_seconds:.1f}s")
        # Point 8's caller waits ~8 minutes for the kubelet's token rotation: start it now.
        identity.start(state)
        yield state
    finally:
        _save_logs(cluster, work)


def _save_logs(cluster: ClusterEnv, work: Path) -> None:
    """Every container's log in the namespaces we used, for a failing run's reader."""
    for namespace in (
        SYSTEM_NAMESPACE,
        APP_NAMESPACE,
        identity.SERVER_NAMESPACE,
        identity.CALLER_NAMESPACE,
    ):
        pods = cluster.kubectl("get", "pods", "-n", namespace, "-o", "name", check=False)
        for pod in pods.stdout.split():
            out = cluster.kubectl(
                "logs",
                "-n",
                namespace,
                pod,
                "--all-containers",
                "--prefix",
                "--tail=400",
                check=False,
            )
            (work / f"{namespace}-{pod.split('/')[-1]}.log").write_text(out.stdout + out.stderr)

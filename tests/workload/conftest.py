"""Fixtures for the workload-identity suite: a real kube-apiserver of its own
(``workload_kube``), service accounts and pods in it, TokenRequest tokens, the
fake IdP and the demo upstream (``fake_idp``, ``demo_upstream``: the proxy suite's,
from :mod:`tests.support.fixtures`), and the proxy as a real process."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from tests.support.fixtures import demo_upstream, fake_idp
from tests.testenv import KubeEnv

__all__ = ["demo_upstream", "fake_idp"]  # shared fixtures, registered by this import

SA_AUDIENCE = "https://platform.authgate.test"
NAMESPACES = ("jobs", "ci-main", "intruders", "authgate-system")
SERVICE_ACCOUNTS = (
    ("jobs", "runner"),
    ("ci-main", "deployer"),
    ("intruders", "runner"),
    ("authgate-system", "authgate-proxy"),
)


@dataclass
class Cluster:
    """A control plane with the test's service accounts and one pod."""

    kube: KubeEnv
    pod_name: str
    pod_uid: str

    def core(self) -> Any:
        from kubernetes import client

        return client.CoreV1Api(self.kube.api_client())

    def token(
        self,
        namespace: str,
        name: str,
        *,
        audiences: list[str] | None = None,
        seconds: int = 3600,
        pod: bool = False,
    ) -> str:
        """A projected-style token from the TokenRequest API (optionally pod-bound)."""
        from kubernetes import client

        spec = client.V1TokenRequestSpec(
            audiences=audiences or [SA_AUDIENCE], expiration_seconds=seconds
        )
        if pod:
            spec.bound_object_ref = client.V1BoundObjectReference(
                kind="Pod", api_version="v1", name=self.pod_name, uid=self.pod_uid
            )
        answer = self.core().create_namespaced_service_account_token(
            name, namespace, client.AuthenticationV1TokenRequest(spec=spec)
        )
        return str(answer.status.token)


def populate(kube: KubeEnv) -> Cluster:
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    core = client.CoreV1Api(kube.api_client())

    def create(call: Any, *args: Any) -> None:
        try:
            call(*args)
        except ApiException as exc:
            if exc.status != 409:
                raise

    for ns in NAMESPACES:
        create(core.create_namespace, client.V1Namespace(metadata=client.V1ObjectMeta(name=ns)))
    for ns, name in SERVICE_ACCOUNTS:
        body = client.V1ServiceAccount(metadata=client.V1ObjectMeta(name=name))
        create(core.create_namespaced_service_account, ns, body)
    pod = client.V1Pod(
        metadata=client.V1ObjectMeta(name="runner-pod"),
        spec=client.V1PodSpec(
            service_account_name="runner",
            containers=[client.V1Container(name="main", image="busybox")],
        ),
    )
    create(core.create_namespaced_pod, "jobs", pod)
    found = core.read_namespaced_pod("runner-pod", "jobs")
    return Cluster(kube, "runner-pod", str(found.metadata.uid))


@pytest.fixture(scope="module")
def cluster(workload_kube: KubeEnv) -> Cluster:
    return populate(workload_kube)

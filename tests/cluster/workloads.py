"""Manifests and helpers of the cluster suite (no fixtures here, see conftest.py)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import yaml

from tests.e2e.charts import Helm
from tests.e2e.images import BuiltImage
from tests.support.polling import eventually
from tests.testenv import ClusterEnv

T = TypeVar("T")

RELEASE = "authgate"
SYSTEM_NAMESPACE = "authgate-system"  # the README's namespace
APP_NAMESPACE = "shop"
PROVIDER = "keycloak"
APP_PORT = 8000

#: The resources and restricted security context of every app container the suite runs
#: (the pod security "restricted" profile: non-root, read-only root, no capabilities).
APP_CONTAINER_LIMITS: dict[str, Any] = {
    "resources": {"requests": {"cpu": "10m", "memory": "48Mi"}, "limits": {"memory": "160Mi"}},
    "securityContext": {
        "runAsUser": 65532,
        "runAsNonRoot": True,
        "readOnlyRootFilesystem": True,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
    },
}


def wait_for(what: str, check: Callable[[], T], timeout: float = 60.0, interval: float = 0.25) -> T:
    """:func:`tests.support.polling.eventually`, in this suite's argument order."""
    return eventually(check, timeout, interval, what)


def apply(cluster: ClusterEnv, manifest: dict[str, Any]) -> None:
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump(manifest))


def claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


@dataclass
class Cluster:
    """The installed release and what the tests need to talk to it."""

    cluster: ClusterEnv
    keycloak: Any
    helm: Helm
    authgate: BuiltImage
    demo: BuiltImage
    installed_at: float
    service_url: str = ""
    first_ok_seconds: float | None = None

    def json(self, *args: str) -> Any:
        return json.loads(self.cluster.kubectl("get", *args, "-o", "json").stdout)

    def rollout(self, namespace: str, what: str, timeout: float = 180) -> None:
        self.cluster.kubectl(
            "rollout",
            "status",
            "-n",
            namespace,
            what,
            f"--timeout={int(timeout)}s",
            timeout=timeout + 30,
        )

    def cluster_ip(self, namespace: str, service: str) -> str:
        return str(self.json("-n", namespace, f"service/{service}")["spec"]["clusterIP"])

    def pods(self, namespace: str, selector: str) -> list[dict[str, Any]]:
        return list(self.json("pods", "-n", namespace, "-l", selector)["items"])

    def token(self, user: str = "alice", scope: str = "openid platform:read platform:write") -> str:
        return str(self.keycloak.password_token(user, scope=scope)["access_token"])

    def get(
        self, path: str, token: str | None = None, base: str | None = None, **headers: str
    ) -> httpx.Response:
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return httpx.get(f"{base or self.service_url}{path}", headers=headers, timeout=10)


def provider_manifest(keycloak: Any, read_scopes: list[str]) -> dict[str, Any]:
    return {
        "apiVersion": "authgate.io/v1alpha1",
        "kind": "OIDCProvider",
        "metadata": {"name": PROVIDER, "namespace": APP_NAMESPACE},
        "spec": {
            "issuer": keycloak.issuer,
            "clientId": keycloak.cli_client_id,
            "audience": [keycloak.audience],
            "caBundle": Path(keycloak.ca_file).read_text(),
            "default": True,
            "defaultScopes": "openid profile email platform:read platform:write",
            "authorization": {"readScopes": read_scopes, "writeScopes": ["platform:write"]},
        },
    }


def app_service() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "echo", "namespace": APP_NAMESPACE},
        "spec": {
            "selector": {"app": "echo"},
            "ports": [{"name": "http", "port": 80, "targetPort": "http"}],
        },
    }


# The demo app listens on 127.0.0.1 only (only the sidecar may reach it), so the kubelet
# cannot probe it over the pod IP: an exec startup probe from inside the container says
# when it listens. It runs until it passes once, then never again.
_APP_LISTENS = [
    "python3",
    "-c",
    f"import urllib.request as u; u.urlopen('http://127.0.0.1:{APP_PORT}/ready', timeout=2)",
]


def app_pod_spec(image: str, revision: str = "1") -> dict[str, Any]:
    return {
        "terminationGracePeriodSeconds": 30,
        "containers": [
            {
                "name": "app",
                "image": image,
                "args": ["--port", str(APP_PORT)],
                "env": [{"name": "REVISION", "value": revision}],
                "ports": [{"name": "http", "containerPort": APP_PORT}],
                "startupProbe": {
                    "exec": {"command": _APP_LISTENS},
                    "periodSeconds": 1,
                    "failureThreshold": 60,
                    "timeoutSeconds": 5,
                },
                # Endpoint removal reaches kube-proxy a moment after the pod starts
                # terminating; the app keeps serving meanwhile (docs/deploy.md).
                "lifecycle": {"preStop": {"sleep": {"seconds": 5}}},
                **APP_CONTAINER_LIMITS,
            }
        ],
    }


def app_deployment(image: str, revision: str = "1", replicas: int = 2) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "echo", "namespace": APP_NAMESPACE},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "echo"}},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
            },
            "template": {
                "metadata": {
                    "labels": {"app": "echo"},
                    "annotations": {"authgate.io/inject": "true", "authgate.io/provider": PROVIDER},
                },
                "spec": app_pod_spec(image, revision),
            },
        },
    }


def bare_pod(name: str, namespace: str, image: str, annotated: bool) -> dict[str, Any]:
    """A pod with a named app port; annotated or not."""
    annotations = {"authgate.io/inject": "true", "authgate.io/provider": PROVIDER}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "annotations": annotations if annotated else {},
        },
        "spec": {
            "containers": [
                {
                    "name": "app",
                    "image": image,
                    "ports": [{"name": "http", "containerPort": APP_PORT}],
                }
            ]
        },
    }

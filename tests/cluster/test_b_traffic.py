"""Point 4: traffic through the Service (kube-proxy -> a pod's sidecar -> the app)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from authgate.core.config import HEADER_PRESETS

from .workloads import Cluster, claims

pytestmark = [pytest.mark.cluster, pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(900)]

# The identity headers of the default (nemo) preset, lower-cased as the echo returns them.
H = {slot: name.lower() for slot, name in HEADER_PRESETS["nemo"].items()}


def _echo(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 200, response.text
    return {k.lower(): v for k, v in response.json()["headers"]}


def test_no_token_is_401(installed: Cluster) -> None:
    response = installed.get("/api/orders")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].lower().startswith("bearer")


def test_token_reaches_the_app_with_identity(installed: Cluster) -> None:
    token = installed.token("alice")
    headers = _echo(installed.get("/api/orders", token))
    assert installed.first_ok_seconds is not None  # measured by the fixture
    alice = installed.keycloak.users["alice"]
    assert headers[H["principal_id"]] == claims(token)["sub"]
    assert headers[H["email"]] == alice.email
    assert {"platform-admins", "developers"} <= set(headers[H["groups"]].split(","))
    assert "authorization" not in headers


def test_both_replicas_serve(installed: Cluster) -> None:
    token = installed.token("alice")
    for pod in installed.pods("shop", "app=echo"):
        ip = pod["status"]["podIP"]
        sidecar = pod["spec"]["initContainers"][0]
        public = next(p["containerPort"] for p in sidecar["ports"] if p["name"] == "http")
        response = installed.get("/api/orders", token, base=f"http://{ip}:{public}")
        assert response.status_code == 200, (ip, response.text)
        # The app's own port is not reachable from outside the pod: it listens on loopback.
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://{ip}:{_app_port(pod)}/api/orders", timeout=5)


def _app_port(pod: dict[str, Any]) -> int:
    return int(pod["spec"]["containers"][0]["ports"][0]["containerPort"])


def test_missing_scope_is_403(installed: Cluster) -> None:
    token = installed.token("bob", scope="openid platform:write")
    response = installed.get("/api/orders", token)
    assert response.status_code == 403, response.text
    assert "insufficient_scope" in response.headers["www-authenticate"]


def test_spoofed_identity_headers_are_stripped(installed: Cluster) -> None:
    token = installed.token("carol")
    spoofed = {name: "admin@evil" for name in H.values()} | {
        HEADER_PRESETS["nemo"]["email"].replace("-", "_"): "admin@evil",
    }
    headers = _echo(installed.get("/api/orders", token, **spoofed))
    assert "admin@evil" not in json.dumps(headers)
    assert headers[H["email"]] == installed.keycloak.users["carol"].email


async def test_websocket_passes(installed: Cluster) -> None:
    import websockets

    token = installed.token("alice")
    uri = installed.service_url.replace("http://", "ws://") + "/ws"
    async with websockets.connect(
        uri,
        additional_headers={"Authorization": f"Bearer {token}"},
        subprotocols=["echo"],
        open_timeout=10,
    ) as ws:  # type: ignore[list-item]
        await ws.send("hello through the sidecar")
        assert await ws.recv() == "hello through the sidecar"
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with websockets.connect(uri, open_timeout=10):
            pass
    assert refused.value.response.status_code == 401


def test_sse_passes(installed: Cluster) -> None:
    token = installed.token("alice")
    events: list[dict[str, Any]] = []
    with httpx.stream(
        "GET",
        f"{installed.service_url}/sse?count=3&interval=0.2",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("data: "):
                events.append(json.loads(line[6:]))
    assert [e["seq"] for e in events] == [0, 1, 2]


def test_discovery_through_the_sidecar_and_the_operator_service(installed: Cluster) -> None:
    via_sidecar = installed.get("/apis/auth/discovery").json()
    assert via_sidecar["oidc"]["issuer"] == installed.keycloak.issuer
    operator_ip = installed.cluster_ip("authgate-system", "authgate")
    via_operator = installed.get("/apis/auth/discovery", base=f"http://{operator_ip}").json()
    assert via_operator["oidc"]["issuer"] == installed.keycloak.issuer
    assert via_operator["oidc"]["client_id"] == installed.keycloak.cli_client_id


def test_cli_in_a_pod_logs_in_through_the_sidecar(installed: Cluster) -> None:
    """`authgate login` + `authgate token` from the image, in a pod: the CLI finds the IdP
    through the discovery document the sidecar serves, by the Service's DNS name."""
    import yaml

    from .workloads import APP_NAMESPACE, wait_for

    cluster = installed.cluster
    ca = Path(installed.keycloak.ca_file).read_text()
    script = (
        'printf %s "$PASSWORD" | authgate login --base-url "$URL" --username alice '
        "--password-stdin --ca-file /ca/ca.crt >/dev/null && authgate token"
    )
    manifests = [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "cli-ca", "namespace": APP_NAMESPACE},
            "data": {"ca.crt": ca},
        },
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "cli", "namespace": APP_NAMESPACE},
            "spec": {
                "restartPolicy": "Never",
                "containers": [
                    {
                        "name": "cli",
                        "image": installed.authgate.tag,
                        "command": ["sh", "-c", script],
                        "env": [
                            {"name": "URL", "value": f"http://echo.{APP_NAMESPACE}.svc"},
                            {
                                "name": "PASSWORD",
                                "value": installed.keycloak.users["alice"].password,
                            },
                        ],
                        "securityContext": {
                            "runAsUser": 65532,
                            "readOnlyRootFilesystem": True,
                            "allowPrivilegeEscalation": False,
                            "capabilities": {"drop": ["ALL"]},
                        },
                        "volumeMounts": [
                            {"name": "ca", "mountPath": "/ca"},
                            {"name": "tmp", "mountPath": "/tmp"},
                        ],
                    }
                ],
                "volumes": [
                    {"name": "ca", "configMap": {"name": "cli-ca"}},
                    {"name": "tmp", "emptyDir": {}},
                ],
            },
        },
    ]
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(manifests))
    try:
        phase = wait_for(
            "the CLI pod to finish",
            lambda: (
                installed.json("-n", APP_NAMESPACE, "pod/cli")["status"].get("phase")
                in ("Succeeded", "Failed")
                and installed.json("-n", APP_NAMESPACE, "pod/cli")["status"]["phase"]
            ),
            timeout=180,
        )
        logs = cluster.kubectl("logs", "-n", APP_NAMESPACE, "pod/cli").stdout
        assert phase == "Succeeded", logs
        token = logs.strip().splitlines()[-1]
        headers = _echo(installed.get("/api/orders", token))
        assert headers[H["email"]] == installed.keycloak.users["alice"].email
    finally:
        cluster.kubectl(
            "delete",
            "-n",
            APP_NAMESPACE,
            "pod/cli",
            "configmap/cli-ca",
            "--wait=false",
            check=False,
        )

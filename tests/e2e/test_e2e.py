"""The whole path, on real parts: chart -> operator (from the image) -> OIDCProvider
-> injected Pod -> traffic through the sidecar.

1. ``helm install`` the chart into the real control plane (CRDs, RBAC,
   ServiceAccount, ...). No kubelet runs, so the test plays it for the
   operator too: it runs the chart's image with the chart's ServiceAccount
   token, so the operator works with exactly the chart's RBAC. Out of the
   cluster the API server reaches the webhook at 127.0.0.1, so the operator
   registers it (``--register-webhook``, one extra test-only ClusterRole)
   instead of the chart's Service-based configuration.
2. An ``OIDCProvider`` pointing at Keycloak (with the test CA) becomes Ready and
   its ConfigMap appears.
3. An annotated Pod is created through the API server, which calls the webhook;
   the stored (mutated) Pod is read back and run by :mod:`.kubelet`.
4. Traffic to the pod's public port: 401 / 200 with identity / 403 / spoofed
   headers dropped / websocket / SSE; a changed provider is picked up by the
   running sidecar without a restart; discovery from the operator.

The time from ``helm install`` to the first authenticated 200 is printed.
"""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from authgate.core.config import HEADER_PRESETS

from .deployment import PROVIDER, Deployment, H, kube_json, provider, wait
from .images import BuiltImage

# The first test also pays for the module fixture: an image build (minutes on a cold
# cache), Keycloak, the install and the pod; on a busy 2-core machine that exceeds
# the suite's default 300 s.
pytestmark = [pytest.mark.e2e, pytest.mark.docker, pytest.mark.k8s, pytest.mark.keycloak,
              pytest.mark.helm, pytest.mark.slow, pytest.mark.timeout(1200)]  # fmt: skip


# -- the mutated pod ------------------------------------------------------------


def test_pod_was_injected(deployment: Deployment, authgate_image: BuiltImage) -> None:
    pod = deployment.pod
    assert pod["metadata"]["annotations"]["authgate.io/injected"] == "true"
    sidecar = pod["spec"]["initContainers"][0]
    assert sidecar["name"] == "authgate-proxy"
    assert sidecar["image"] == authgate_image.tag
    assert sidecar["restartPolicy"] == "Always"  # a native sidecar
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    assert volumes["authgate-config"]["configMap"]["name"] == f"authgate-{PROVIDER}"
    app = pod["spec"]["containers"][0]
    assert app["ports"][0]["name"] == "authgate-app"  # the sidecar took over "http"
    assert app["readinessProbe"]["httpGet"]["port"] == "authgate-app"


# -- traffic ----------------------------------------------------------------------


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def _echo(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 200, response.text
    return {k.lower(): v for k, v in response.json()["headers"]}


def test_no_token_is_401(deployment: Deployment) -> None:
    response = httpx.get(f"{deployment.public_url}/api/orders", timeout=10)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].lower().startswith("bearer")


def test_keycloak_token_reaches_the_app_with_identity(deployment: Deployment) -> None:
    token = deployment.token("alice")
    response = httpx.get(f"{deployment.public_url}/api/orders",
                         headers={"Authorization": f"Bearer {token}"}, timeout=10)  # fmt: skip
    first_ok = time.monotonic()
    headers = _echo(response)
    alice = deployment.keycloak.users["alice"]
    claims = _claims(token)
    assert headers[H["principal_id"]] == claims["sub"], headers
    assert headers[H["email"]] == alice.email
    assert {"platform-admins", "developers"} <= set(headers[H["groups"]].split(","))
    assert {"platform:read", "platform:write"} <= set(headers[H["scopes"]].split())
    assert "authorization" not in headers  # forward_authorization defaults to false
    seconds = first_ok - deployment.installed_at
    print(f"\n[e2e] helm install -> first authenticated 200: {seconds:.1f}s "
          "(operator start, provider Ready, pod injected and started)")  # fmt: skip


def test_token_without_the_scope_is_403(deployment: Deployment) -> None:
    # An API scope, but not the one a GET needs. (A token carrying no API scope at
    # all, only openid/profile/email, is unrestricted: the NeMo Platform rule in
    # authgate.core.rules.)
    token = deployment.token("bob", scope="openid platform:write")
    scopes = _claims(token).get("scope", "").split()
    assert "platform:read" not in scopes and "platform:write" in scopes, scopes
    response = httpx.get(f"{deployment.public_url}/api/orders",
                         headers={"Authorization": f"Bearer {token}"}, timeout=10)  # fmt: skip
    assert response.status_code == 403, (scopes, response.text)
    assert "insufficient_scope" in response.headers["www-authenticate"]


def test_spoofed_identity_headers_are_stripped(deployment: Deployment) -> None:
    token = deployment.token("carol")
    # The configured identity headers, and the underscore spelling some servers
    # fold into the same name (CVE-2025-64484).
    spoofed = {name: "admin@evil" for name in H.values()} | {
        HEADER_PRESETS["nemo"]["email"].replace("-", "_"): "admin@evil",
    }
    headers = _echo(httpx.get(
        f"{deployment.public_url}/api/orders",
        headers={"Authorization": f"Bearer {token}", **spoofed}, timeout=10,
    ))  # fmt: skip
    assert "admin@evil" not in json.dumps(headers)
    assert headers[H["email"]] == deployment.keycloak.users["carol"].email
    no_token = httpx.get(f"{deployment.public_url}/public-not", headers=spoofed, timeout=10)
    assert no_token.status_code == 401


async def test_websocket_passes(deployment: Deployment) -> None:
    import websockets

    token = deployment.token("alice")
    uri = deployment.public_url.replace("http://", "ws://") + "/ws"
    async with websockets.connect(uri, additional_headers={"Authorization": f"Bearer {token}"},
                                  subprotocols=["echo"], open_timeout=10) as ws:  # type: ignore[list-item]
        await ws.send("hello through the sidecar")
        assert await ws.recv() == "hello through the sidecar"
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with websockets.connect(uri, open_timeout=10):
            pass
    assert refused.value.response.status_code == 401


def test_sse_passes(deployment: Deployment) -> None:
    token = deployment.token("alice")
    events: list[dict[str, Any]] = []
    with httpx.stream("GET", f"{deployment.public_url}/sse?count=3&interval=0.2",
                      headers={"Authorization": f"Bearer {token}"}, timeout=10) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("data: "):
                events.append(json.loads(line[6:]))
    assert [e["seq"] for e in events] == [0, 1, 2]


def test_cli_in_the_image_logs_in_through_the_sidecar(
    deployment: Deployment, authgate_image: BuiltImage, docker_engine: Any, tmp_path: Path
) -> None:
    """`authgate login` (password grant) and `authgate token`, run from the same image:
    the CLI finds the IdP through the discovery document the sidecar serves."""
    ca_dir = tmp_path / "ca"
    ca_dir.mkdir(mode=0o755)
    (ca_dir / "ca.crt").write_bytes(Path(deployment.keycloak.ca_file).read_bytes())
    (ca_dir / "ca.crt").chmod(0o644)
    tmp_path.chmod(0o755)
    script = ('printf %s "$PASSWORD" | authgate login --base-url "$URL" --username alice '
              '--password-stdin --ca-file /ca/ca.crt >/dev/null && authgate token')  # fmt: skip
    container = docker_engine.client().containers.run(
        authgate_image.tag, entrypoint=["sh", "-c", script], detach=True,
        environment={"URL": deployment.public_url,
                     "PASSWORD": deployment.keycloak.users["alice"].password},
        network_mode="host", read_only=True, user="65532:65532", cap_drop=["ALL"],
        tmpfs={"/tmp": "rw,mode=1777,size=16m"},
        volumes={str(ca_dir): {"bind": "/ca", "mode": "ro"}},
    )  # fmt: skip
    try:
        status = container.wait(timeout=90)
        out = container.logs(stdout=True, stderr=False).decode().strip()
        err = container.logs(stdout=False, stderr=True).decode()
    finally:
        container.remove(force=True)
    assert status["StatusCode"] == 0, err
    token = out.splitlines()[-1]
    headers = _echo(httpx.get(f"{deployment.public_url}/api/orders",
                              headers={"Authorization": f"Bearer {token}"}, timeout=10))
    assert headers[H["email"]] == deployment.keycloak.users["alice"].email


def test_discovery_from_the_operator(deployment: Deployment) -> None:
    document = httpx.get(f"{deployment.discovery_url}/apis/auth/discovery", timeout=10).json()
    assert document["auth_enabled"] is True
    assert document["oidc"]["issuer"] == deployment.keycloak.issuer
    assert document["oidc"]["client_id"] == deployment.keycloak.cli_client_id
    named = httpx.get(f"{deployment.discovery_url}/apis/auth/discovery",
                      params={"provider": f"{deployment.app_namespace}/{PROVIDER}"}, timeout=10)
    assert named.status_code == 200 and named.json() == document
    via_sidecar = httpx.get(f"{deployment.public_url}/apis/auth/discovery", timeout=10)
    assert via_sidecar.status_code == 200
    assert via_sidecar.json()["oidc"]["issuer"] == deployment.keycloak.issuer


def test_provider_change_is_hot_reloaded(deployment: Deployment) -> None:
    """A new required scope reaches the running sidecar: no restart, new decisions."""
    kube, ns = deployment.kube, deployment.app_namespace
    read_only = deployment.token("alice", scope="openid platform:read")
    writer = deployment.token("alice", scope="openid platform:write")
    url = f"{deployment.public_url}/api/orders"

    def status(token: str) -> int:
        return httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10).status_code

    assert status(read_only) == 200
    before = deployment.running.inspect("authgate-proxy")
    old = kube_json(kube, "-n", ns, f"configmap/authgate-{PROVIDER}")["data"]
    kube.kubectl("apply", "-f", "-", input=yaml.safe_dump(
        provider(deployment.keycloak, ns, ["platform:write"])))  # fmt: skip
    new = wait("the operator to re-render the ConfigMap", lambda: (
        data if (data := kube_json(kube, "-n", ns, f"configmap/authgate-{PROVIDER}")["data"])
        != old else None), timeout=60)  # fmt: skip
    deployment.running.config_maps["authgate-config"].write(new)  # the kubelet's sync

    wait("the sidecar to enforce the new scope", lambda: status(read_only) == 403, timeout=30)
    assert status(writer) == 200
    after = deployment.running.inspect("authgate-proxy")
    assert after["Id"] == before["Id"]
    assert after["State"]["StartedAt"] == before["State"]["StartedAt"]  # not restarted
    assert after["RestartCount"] == 0

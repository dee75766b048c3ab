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
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import yaml
from testcontainers.core.container import DockerContainer

from authgate.core.config import HEADER_PRESETS

from ..support.ports import free_port as _free_port
from .charts import CHART, Helm
from .images import BuiltImage
from .kubelet import PodRunner, RunningPod

# The first test also pays for the module fixture: an image build (minutes on a cold
# cache), Keycloak, the install and the pod; on a busy 2-core machine that exceeds
# the suite's default 300 s.
pytestmark = [pytest.mark.e2e, pytest.mark.docker, pytest.mark.k8s, pytest.mark.keycloak,
              pytest.mark.helm, pytest.mark.slow, pytest.mark.timeout(1200)]  # fmt: skip

RELEASE = "authgate"
PROVIDER = "keycloak"
# The identity headers of the default (nemo) preset, lower-cased as _echo returns them.
H = {slot: name.lower() for slot, name in HEADER_PRESETS["nemo"].items()}



def _wait(what: str, check: Any, timeout: float = 60.0, interval: float = 0.25) -> Any:
    """Poll ``check()`` until it returns a truthy value; bounded by ``timeout``."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except Exception as exc:
            last = exc
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def _kube_json(kube: Any, *args: str) -> Any:
    return json.loads(kube.kubectl("get", *args, "-o", "json").stdout)


def _service_account_kubeconfig(kube: Any, namespace: str, account: str, target: Path) -> Path:
    """A self-contained kubeconfig that authenticates as the chart's ServiceAccount."""
    token = kube.kubectl("create", "token", account, "-n", namespace, "--duration=2h").stdout
    ca_pem = Path(kube.ca.cert_file).read_bytes()
    config = {
        "apiVersion": "v1", "kind": "Config", "current-context": "sa",
        "clusters": [{"name": "test", "cluster": {
            "server": kube.server,
            "certificate-authority-data": base64.b64encode(ca_pem).decode()}}],
        "users": [{"name": "sa", "user": {"token": token.strip()}}],
        "contexts": [{"name": "sa", "context": {"cluster": "test", "user": "sa",
                                                "namespace": namespace}}],
    }  # fmt: skip
    target.mkdir(parents=True, exist_ok=True)
    target.chmod(0o755)
    path = target / "config"
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o644)  # read by uid 65532 in the container; a throwaway token
    return path


# Test-only: out of the cluster the operator registers its own URL webhook.
REGISTRAR_RBAC = """
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {{name: e2e-webhook-registrar}}
rules:
  - apiGroups: [admissionregistration.k8s.io]
    resources: [mutatingwebhookconfigurations]
    verbs: [get, create, patch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {{name: e2e-webhook-registrar}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: e2e-webhook-registrar}}
subjects: [{{kind: ServiceAccount, name: {account}, namespace: {namespace}}}]
"""


@dataclass
class Deployment:
    """Everything the traffic tests need."""

    kube: Any
    keycloak: Any
    app_namespace: str
    operator: DockerContainer
    discovery_url: str
    pod: dict[str, Any]
    running: RunningPod
    public_url: str
    installed_at: float
    helm: Helm

    def token(self, user: str = "alice", scope: str = "openid platform:read platform:write") -> str:
        return str(self.keycloak.password_token(user, scope=scope)["access_token"])


def _provider(keycloak: Any, namespace: str, read_scopes: list[str]) -> dict[str, Any]:
    return {
        "apiVersion": "authgate.io/v1alpha1",
        "kind": "OIDCProvider",
        "metadata": {"name": PROVIDER, "namespace": namespace},
        "spec": {
            "issuer": keycloak.issuer,
            "clientId": keycloak.cli_client_id,
            "audience": [keycloak.audience],
            "caBundle": Path(keycloak.ca_file).read_text(),
            "default": True,
            # What the CLI requests (published in discovery); this realm grants no
            # offline_access, so it is left out.
            "defaultScopes": "openid profile email platform:read platform:write",
            "authorization": {"readScopes": read_scopes, "writeScopes": ["platform:write"]},
        },
    }


def _app_pod(namespace: str, image: str, app_port: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "echo",
            "namespace": namespace,
            "annotations": {"authgate.io/inject": "true", "authgate.io/provider": PROVIDER},
        },
        "spec": {
            "containers": [{
                "name": "app",
                "image": image,
                "args": ["--port", str(app_port)],
                "ports": [{"name": "http", "containerPort": app_port}],
                "readinessProbe": {"httpGet": {"path": "/ready", "port": "http"}},
                "securityContext": {"runAsUser": 65532, "readOnlyRootFilesystem": True,
                                    "allowPrivilegeEscalation": False,
                                    "capabilities": {"drop": ["ALL"]}},
            }],
        },
    }  # fmt: skip


def _config_map_data(kube: Any, namespace: str) -> Any:
    def read(name: str) -> dict[str, str]:
        return dict(_kube_json(kube, "-n", namespace, f"configmap/{name}")["data"])

    return read


@pytest.fixture(scope="module")
def deployment(
    kube: Any,
    keycloak: Any,
    helm_bin: Path,
    docker_engine: Any,
    authgate_image: BuiltImage,
    demo_image: BuiltImage,
    tmp_path_factory: pytest.TempPathFactory,
    e2e_logs: Path,
) -> Iterator[Deployment]:
    workdir = tmp_path_factory.mktemp("e2e")
    system_ns = f"authgate-{uuid.uuid4().hex[:6]}"
    app_ns = f"shop-{uuid.uuid4().hex[:6]}"
    helm = Helm(helm_bin, kubeconfig=Path(kube.kubeconfig), home=workdir / "helm-home")
    repository, tag = authgate_image.tag.rsplit(":", 1)
    for name in ("oidcproviders.authgate.io", "kopfpeerings.kopf.dev",
                 "clusterkopfpeerings.kopf.dev"):  # fmt: skip
        if kube.kubectl("get", f"crd/{name}", check=False).returncode == 0:  # adopt, see docs
            kube.kubectl("label", "--overwrite", f"crd/{name}", "app.kubernetes.io/managed-by=Helm")
            kube.kubectl("annotate", "--overwrite", f"crd/{name}",
                         f"meta.helm.sh/release-name={RELEASE}",
                         f"meta.helm.sh/release-namespace={system_ns}")  # fmt: skip

    # The operator watches only the app namespace (operator.watchNamespaces: a Role
    # there), so it never touches objects other tests leave in the shared cluster.
    kube.kubectl("create", "namespace", app_ns)
    installed_at = time.monotonic()
    helm.run("install", RELEASE, str(CHART), "--namespace", system_ns, "--create-namespace",
             "--set", f"image.repository={repository}", "--set", f"image.tag={tag}",
             "--set", "image.pullPolicy=Never", "--set", f"operator.watchNamespaces={{{app_ns}}}",
             # The chart's Service-based webhook is unreachable without cluster networking;
             # the out-of-cluster operator registers a URL webhook instead (see module doc).
             "--set", "webhook.enabled=false",
             "--timeout", "120s")  # fmt: skip
    operator: DockerContainer | None = None
    running: RunningPod | None = None
    try:
        kube.kubectl("wait", "--for=condition=Established", "--timeout=60s",
                     "crd/oidcproviders.authgate.io")  # fmt: skip
        chart_args = _kube_json(kube, "-n", system_ns, f"deployment/{RELEASE}")["spec"][
            "template"]["spec"]["containers"][0]["args"]  # fmt: skip
        sidecar_image = next(a.split("=", 1)[1] for a in chart_args if a.startswith(
            "--sidecar-image="))  # fmt: skip
        assert sidecar_image == authgate_image.tag
        scope = [a for a in chart_args if a.startswith(("--peering=", "--namespace="))]
        assert f"--namespace={app_ns}" in scope and "--all-namespaces" not in chart_args

        kube.kubectl("apply", "-f", "-", input=REGISTRAR_RBAC.format(
            account=RELEASE, namespace=system_ns))  # fmt: skip
        kubeconfig = _service_account_kubeconfig(kube, system_ns, RELEASE, workdir / "kube")
        discovery_port, webhook_port = _free_port(), _free_port()
        operator = DockerContainer(authgate_image.tag, env={"KUBECONFIG": "/var/run/kube/config"})
        operator.with_command([
            "operator", *scope,
            "--discovery-address=127.0.0.1", f"--discovery-port={discovery_port}",
            "--webhook-address=127.0.0.1", f"--webhook-port={webhook_port}",
            "--webhook-host=127.0.0.1", "--register-webhook",
            f"--sidecar-image={sidecar_image}", "--recheck-interval=5",
        ])  # fmt: skip
        operator.with_name(f"e2e-operator-{system_ns}")
        operator.with_kwargs(network_mode="host", read_only=True, user="65532:65532",
                             cap_drop=["ALL"], security_opt=["no-new-privileges"])  # fmt: skip
        operator.with_volume_mapping(kubeconfig.parent, "/var/run/kube", "ro")
        operator.tmpfs["/tmp"] = "rw,nosuid,nodev,mode=1777,size=16m"
        operator.start()
        discovery_url = f"http://127.0.0.1:{discovery_port}"

        def operator_up() -> bool:
            state = operator.get_wrapped_container()
            state.reload()
            if state.status != "running":
                out, err = operator.get_logs()
                raise AssertionError(f"operator exited:\n{(out + err).decode()[-4000:]}")
            return httpx.get(f"{discovery_url}/healthz", timeout=2).status_code == 200

        _wait("the operator's /healthz", operator_up, timeout=180)
        _wait("the webhook registration", lambda: kube.kubectl(
            "get", "mutatingwebhookconfiguration/authgate-sidecar-injector",
            check=False).returncode == 0, timeout=60)  # fmt: skip

        kube.kubectl("apply", "-f", "-", input=yaml.safe_dump(
            _provider(keycloak, app_ns, ["platform:read"])))  # fmt: skip
        kube.kubectl("wait", "--for=condition=Ready", "--timeout=90s",
                     f"oidcprovider/{PROVIDER}", "-n", app_ns)  # fmt: skip
        _wait("the rendered ConfigMap", lambda: kube.kubectl(
            "get", "-n", app_ns, f"configmap/authgate-{PROVIDER}", check=False).returncode == 0)

        app_port = _free_port()
        created = kube.kubectl("create", "-f", "-", "-o", "json", input=yaml.safe_dump(
            _app_pod(app_ns, demo_image.tag, app_port)))  # fmt: skip
        assert json.loads(created.stdout)["metadata"]["name"] == "echo"
        pod = _kube_json(kube, "-n", app_ns, "pod/echo")  # the stored, mutated pod
        runner = PodRunner(pod, workdir / "pod", _config_map_data(kube, app_ns),
                           sandbox_image=authgate_image.tag,
                           egress_ports=[urlsplit(keycloak.issuer).port])  # fmt: skip
        running = runner.start(timeout=90)
        sidecar = pod["spec"]["initContainers"][0]
        public_port = next(p["containerPort"] for p in sidecar["ports"] if p["name"] == "http")
        yield Deployment(
            kube=kube, keycloak=keycloak, app_namespace=app_ns, operator=operator,
            discovery_url=discovery_url, pod=pod, running=running,
            public_url=running.url(public_port), installed_at=installed_at, helm=helm,
        )  # fmt: skip
    finally:
        if running is not None:
            for name in running.containers:
                (e2e_logs / f"{name}.log").write_text(running.logs(name))
            running.stop()
        if operator is not None:
            # Delete the provider while the operator still runs, so its finalizer goes
            # and nothing is left for operators of later tests to reconcile.
            kube.kubectl("delete", "-n", app_ns, f"oidcprovider/{PROVIDER}", "--timeout=30s",
                         "--ignore-not-found", check=False)  # fmt: skip
            out, err = operator.get_logs()
            (e2e_logs / "operator.log").write_bytes(out + err)
            operator.stop()
        kube.kubectl("delete", "mutatingwebhookconfiguration/authgate-sidecar-injector",
                     "clusterrolebinding/e2e-webhook-registrar",
                     "clusterrole/e2e-webhook-registrar", "--ignore-not-found")  # fmt: skip
        helm.run("uninstall", RELEASE, "--namespace", system_ns, check=False)


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
    }  # fmt: skip
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
    old = _kube_json(kube, "-n", ns, f"configmap/authgate-{PROVIDER}")["data"]
    kube.kubectl("apply", "-f", "-", input=yaml.safe_dump(
        _provider(deployment.keycloak, ns, ["platform:write"])))  # fmt: skip
    new = _wait("the operator to re-render the ConfigMap", lambda: (
        data if (data := _kube_json(kube, "-n", ns, f"configmap/authgate-{PROVIDER}")["data"])
        != old else None), timeout=60)  # fmt: skip
    deployment.running.config_maps["authgate-config"].write(new)  # the kubelet's sync

    _wait("the sidecar to enforce the new scope", lambda: status(read_only) == 403, timeout=30)
    assert status(writer) == 200
    after = deployment.running.inspect("authgate-proxy")
    assert after["Id"] == before["Id"]
    assert after["State"]["StartedAt"] == before["State"]["StartedAt"]  # not restarted
    assert after["RestartCount"] == 0

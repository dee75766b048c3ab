"""The e2e suite's installation: ``helm install`` the chart, run the operator from the image
with the chart's ServiceAccount, create the ``OIDCProvider`` and the annotated Pod, run
the mutated Pod (:mod:`.kubelet`), and tear it all down again (see ``test_e2e.py``)."""

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
from .charts import CHART, CRD_NAMES, Helm
from .images import BuiltImage
from .kubelet import PodRunner, RunningPod

RELEASE = "authgate"
PROVIDER = "keycloak"
# The identity headers of the default (nemo) preset, lower-cased as _echo returns them.
H = {slot: name.lower() for slot, name in HEADER_PRESETS["nemo"].items()}


def wait(what: str, check: Any, timeout: float = 60.0, interval: float = 0.25) -> Any:
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


def kube_json(kube: Any, *args: str) -> Any:
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


def provider(keycloak: Any, namespace: str, read_scopes: list[str]) -> dict[str, Any]:
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
        return dict(kube_json(kube, "-n", namespace, f"configmap/{name}")["data"])

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
    """Install everything, yield the running :class:`Deployment`, then remove it (the
    module fixture of ``test_e2e.py``, registered in ``conftest.py``)."""
    workdir = tmp_path_factory.mktemp("e2e")
    system_ns = f"authgate-{uuid.uuid4().hex[:6]}"
    app_ns = f"shop-{uuid.uuid4().hex[:6]}"
    helm = Helm(helm_bin, kubeconfig=Path(kube.kubeconfig), home=workdir / "helm-home")
    repository, tag = authgate_image.tag.rsplit(":", 1)
    for name in CRD_NAMES:
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
        chart_args = kube_json(kube, "-n", system_ns, f"deployment/{RELEASE}")["spec"][
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

        wait("the operator's /healthz", operator_up, timeout=180)
        wait("the webhook registration", lambda: kube.kubectl(
            "get", "mutatingwebhookconfiguration/authgate-sidecar-injector",
            check=False).returncode == 0, timeout=60)  # fmt: skip

        kube.kubectl("apply", "-f", "-", input=yaml.safe_dump(
            provider(keycloak, app_ns, ["platform:read"])))  # fmt: skip
        kube.kubectl("wait", "--for=condition=Ready", "--timeout=90s",
                     f"oidcprovider/{PROVIDER}", "-n", app_ns)  # fmt: skip
        wait("the rendered ConfigMap", lambda: kube.kubectl(
            "get", "-n", app_ns, f"configmap/authgate-{PROVIDER}", check=False).returncode == 0)

        app_port = _free_port()
        created = kube.kubectl("create", "-f", "-", "-o", "json", input=yaml.safe_dump(
            _app_pod(app_ns, demo_image.tag, app_port)))  # fmt: skip
        assert json.loads(created.stdout)["metadata"]["name"] == "echo"
        pod = kube_json(kube, "-n", app_ns, "pod/echo")  # the stored, mutated pod
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

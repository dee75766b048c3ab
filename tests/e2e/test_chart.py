"""The Helm chart, checked with the real helm binary and the real kube-apiserver.

* the chart's CRDs are exactly what ``authgate operator crd --peering`` prints;
* ``helm lint --strict`` passes with the defaults and every ``ci/*-values.yaml``;
* each scenario renders what it promises (CRD keep policy, RBAC scope, hooks);
* the values schema rejects a typo'd key and a wrongly typed value;
* every rendered manifest passes a server-side dry run;
* install -> CRDs Established, upgrade reuses the webhook certificate,
  uninstall keeps the CRD when ``crds.keep`` is set.

The control plane has no kubelet, so nothing is installed with ``--wait``.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from .charts import (
    CHART,
    CRD_NAMES,
    SCENARIOS,
    TEMPLATE_KUBE_VERSION,
    Helm,
    HelmError,
    by_kind,
    is_hook,
    one,
    parse_documents,
)

SCENARIO_IDS = [path.name.removesuffix("-values.yaml") for path in SCENARIOS]


def scenario(name: str) -> Path:
    return CHART / "ci" / f"{name}-values.yaml"


@pytest.fixture(scope="module")
def helm(helm_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Helm:
    return Helm(helm_bin, home=tmp_path_factory.mktemp("helm-home"))


@pytest.fixture(scope="module")
def helm_kube(helm: Helm, kube: Any) -> Helm:
    return Helm(helm.binary, kubeconfig=Path(kube.kubeconfig), home=helm.home)


# -- no cluster ---------------------------------------------------------------


def test_chart_crds_are_the_operators_crds() -> None:
    """files/crds.yaml is regenerated with `authgate operator crd --peering > ...`."""
    printed = subprocess.run(
        [sys.executable, "-m", "authgate", "operator", "crd", "--peering"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    shipped = (CHART / "files" / "crds.yaml").read_text()
    assert shipped == printed, (
        "charts/authgate/files/crds.yaml drifted from the operator's CRD; regenerate it with "
        "`authgate operator crd --peering > charts/authgate/files/crds.yaml`"
    )
    names = [doc["metadata"]["name"] for doc in parse_documents(shipped)]
    assert names == CRD_NAMES


@pytest.mark.parametrize("values", [None, *SCENARIOS], ids=["plain", *SCENARIO_IDS])
def test_lint_strict(helm: Helm, values: Path | None) -> None:
    args = ["lint", "--strict", str(CHART)]
    if values is not None:
        args += ["--values", str(values)]
    result = helm.run(*args)
    assert "0 chart(s) failed" in result.stdout, result.stdout


def test_default_render(helm: Helm) -> None:
    docs = helm.template(values_files=[scenario("default")])
    crds = by_kind(docs, "CustomResourceDefinition")
    assert [c["metadata"]["name"] for c in crds] == CRD_NAMES
    for crd in crds:  # crds.keep defaults to true
        assert crd["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
        assert crd["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "Helm"
    operator_crds = list(
        yaml.safe_load_all((Path(__file__).parents[2] / "operator" / "crd.yaml").read_text())
    )
    assert [c["spec"] for c in crds[:2]] == [c["spec"] for c in operator_crds]

    deployment = one(docs, "Deployment")
    assert deployment["spec"]["replicas"] == 2
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["image"] == "authgate:0.1.0"
    assert container["args"][:3] == ["operator", "--all-namespaces", "--peering=authgate"]
    assert "--cert-dir=/etc/authgate/webhook" in container["args"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["securityContext"]["runAsUser"] == 65532

    # The chart owns the webhook configuration and its certificate: the caBundle it
    # registers must be the CA that signed the Secret's serving certificate.
    secret = one(docs, "Secret", "authgate-webhook-tls")
    _assert_signed_for(secret, "authgate.authgate-system.svc")
    hooks = one(docs, "MutatingWebhookConfiguration")["webhooks"]
    assert [h["name"] for h in hooks] == [
        "annotated.inject.authgate.io",
        "namespace.inject.authgate.io",
    ]
    for hook in hooks:
        assert hook["clientConfig"]["caBundle"] == secret["data"]["ca.crt"]
        assert hook["clientConfig"]["service"] == {
            "name": "authgate",
            "namespace": "authgate-system",
            "path": "/inject",
            "port": 443,
        }
        assert hook["failurePolicy"] == "Fail"
        excluded = hook["namespaceSelector"]["matchExpressions"][-1]["values"]
        assert excluded[0] == "authgate-system" and "kube-system" in excluded
    # Only opted-in pods ever reach the operator.
    assert "'authgate.io/inject'" in hooks[0]["matchConditions"][0]["expression"]
    assert hooks[1]["namespaceSelector"]["matchExpressions"][0]["key"] == "authgate.io/injection"

    assert one(docs, "PodDisruptionBudget")["spec"]["minAvailable"] == 1
    role = one(docs, "ClusterRole")
    resources = {r for rule in role["rules"] for r in rule["resources"]}
    needed = {"oidcproviders", "oidcproviders/status", "configmaps", "clusterkopfpeerings"}
    assert needed <= resources
    assert not {"pods", "mutatingwebhookconfigurations"} & resources  # least privilege
    # Secrets only for the access-key signing keys (get/create/update) and the generated
    # browser-session key Secrets (get/create/patch): never list/watch/delete.
    secret_verbs = {
        v for rule in role["rules"] if "secrets" in rule["resources"] for v in rule["verbs"]
    }
    assert secret_verbs == {"get", "create", "update", "patch"}
    assert not by_kind(docs, "Role")
    assert not by_kind(docs, "Ingress") and not by_kind(docs, "ServiceMonitor")
    assert not by_kind(docs, "OIDCProvider")
    test_pod = one(docs, "Pod")
    assert test_pod["metadata"]["annotations"]["helm.sh/hook"] == "test"


def _assert_signed_for(secret: dict[str, Any], host: str) -> None:
    from cryptography import x509

    ca = x509.load_pem_x509_certificate(base64.b64decode(secret["data"]["ca.crt"]))
    cert = x509.load_pem_x509_certificate(base64.b64decode(secret["data"]["tls.crt"]))
    cert.verify_directly_issued_by(ca)
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert host in sans.get_values_for_type(x509.DNSName)


def test_single_replica_render(helm: Helm) -> None:
    docs = helm.template(values_files=[scenario("single-replica")])
    crds = by_kind(docs, "CustomResourceDefinition")
    assert [c["metadata"]["name"] for c in crds] == [
        "oidcproviders.authgate.io",
        "accesskeys.authgate.io",
    ]
    assert "helm.sh/resource-policy" not in (crds[0]["metadata"].get("annotations") or {})
    args = one(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--standalone" in args and "--verbose" in args
    assert not by_kind(docs, "PodDisruptionBudget")
    hooks = one(docs, "MutatingWebhookConfiguration")["webhooks"]
    assert {hook["failurePolicy"] for hook in hooks} == {"Ignore"}


def test_namespaced_render(helm: Helm) -> None:
    docs = helm.template(values_files=[scenario("namespaced")])
    args = one(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--namespace=team-a" in args and "--namespace=team-b" in args
    assert "--all-namespaces" not in args
    roles = by_kind(docs, "Role")
    assert sorted(r["metadata"]["namespace"] for r in roles) == ["team-a", "team-b"]
    cluster_resources = {r for rule in one(docs, "ClusterRole")["rules"] for r in rule["resources"]}
    assert "configmaps" not in cluster_resources and "oidcproviders" not in cluster_resources
    role_resources = {r for rule in roles[0]["rules"] for r in rule["resources"]}
    assert "kopfpeerings" in role_resources and "clusterkopfpeerings" not in cluster_resources


def test_full_render(helm: Helm) -> None:
    docs = helm.template(values_files=[scenario("full")], release="edge", namespace="platform")
    ingress = one(docs, "Ingress")
    rule = ingress["spec"]["rules"][0]
    assert rule["host"] == "auth.example.com"
    assert rule["http"]["paths"][0]["path"] == "/apis/auth/discovery"
    assert rule["http"]["paths"][0]["pathType"] == "Exact"
    assert one(docs, "ServiceMonitor")["metadata"]["labels"]["release"] == "prometheus"
    provider = one(docs, "OIDCProvider", "platform")
    assert provider["spec"]["issuer"] == "https://idp.example.com/realms/platform"
    assert is_hook(provider)
    assert provider["metadata"]["annotations"]["helm.sh/hook"] == "post-install,post-upgrade"
    # An existing certificate: no Secret generated, caBundle from values.
    assert not by_kind(docs, "Secret")
    hook = one(docs, "MutatingWebhookConfiguration")["webhooks"][0]
    assert base64.b64decode(hook["clientConfig"]["caBundle"]).startswith(b"-----BEGIN CERTIFICATE")
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    assert pod["volumes"][1]["secret"]["secretName"] == "authgate-webhook-cert"
    assert pod["containers"][0]["image"] == "registry.example.com/platform/authgate:0.1.0"
    assert "--recheck-interval=60" in pod["containers"][0]["args"]
    assert one(docs, "Deployment")["spec"]["replicas"] == 3


def test_minimal_render(helm: Helm) -> None:
    docs = helm.template(values_files=[scenario("minimal")])
    kinds = sorted({doc["kind"] for doc in docs})
    assert kinds == ["Deployment", "PodDisruptionBudget", "Service"]
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "authgate-operator"
    assert "--webhook-port=0" in pod["containers"][0]["args"]


@pytest.mark.parametrize(
    ("flag", "value", "complaint"),
    [
        ("--set", "operator.replica=3", "replica"),  # typo'd key
        ("--set", "crds.keeep=false", "keeep"),
        ("--set-string", "operator.replicas=two", "replicas"),  # wrong type
        ("--set", "webhook.failurePolicy=Sometimes", "failurePolicy"),  # not in the enum
        ("--set", "service.port=70000", "port"),  # out of range
    ],
)
def test_schema_rejects_bad_values(helm: Helm, flag: str, value: str, complaint: str) -> None:
    result = helm.run(
        "template",
        "authgate",
        str(CHART),
        "--kube-version",
        TEMPLATE_KUBE_VERSION,
        flag,
        value,
        check=False,
    )
    assert result.returncode != 0
    assert "values don't meet the specifications of the schema" in result.stderr
    assert complaint in result.stderr


def test_provider_requires_a_spec(helm: Helm) -> None:
    with pytest.raises(HelmError, match=r"provider.spec is required"):
        helm.template(sets=["provider.enabled=true"])


# -- the real kube-apiserver ---------------------------------------------------


def _kubectl_apply_dry_run(kube: Any, documents: list[dict[str, Any]]) -> str:
    text = yaml.safe_dump_all(documents, sort_keys=False)
    return kube.kubectl("apply", "--dry-run=server", "-f", "-", input=text).stdout


def _ensure_namespace(kube: Any, name: str) -> None:
    kube.kubectl("create", "namespace", name, check=False)


def _install_crds(kube: Any, helm: Helm) -> None:
    """The CRDs for real (dry-running an OIDCProvider needs its CRD to exist)."""
    crds = by_kind(helm.template(values_files=[scenario("default")]), "CustomResourceDefinition")
    kube.kubectl(
        "apply", "--server-side", "--force-conflicts", "-f", "-", input=yaml.safe_dump_all(crds)
    )
    for crd in crds:
        kube.kubectl(
            "wait", "--for=condition=Established", "--timeout=60s", f"crd/{crd['metadata']['name']}"
        )


@pytest.mark.parametrize("values", SCENARIOS, ids=SCENARIO_IDS)
def test_server_side_dry_run(helm_kube: Helm, kube: Any, values: Path) -> None:
    """Every manifest of every scenario is accepted by the API server's admission.

    ServiceMonitor is the one exception: its CRD belongs to the Prometheus
    Operator, which this control plane does not run.
    """
    _install_crds(kube, helm_kube)
    namespace = f"dry-{uuid.uuid4().hex[:8]}"
    docs = helm_kube.template(values_files=[values], namespace=namespace)
    for extra in {d["metadata"].get("namespace") for d in docs} - {None, namespace}:
        _ensure_namespace(kube, extra)
    _ensure_namespace(kube, namespace)
    checked = [d for d in docs if d["kind"] != "ServiceMonitor"]
    output = _kubectl_apply_dry_run(kube, checked)
    assert output.count("(server dry run)") == len(checked), output


def _adopt_existing(kube: Any, release: str, namespace: str) -> None:
    """Hand CRDs that exist without this release (applied by hand or by another test)
    over to it, the documented Helm adoption: ownership labels + annotations."""
    for name in CRD_NAMES:
        if kube.kubectl("get", f"crd/{name}", check=False).returncode != 0:
            continue
        kube.kubectl("label", "--overwrite", f"crd/{name}", "app.kubernetes.io/managed-by=Helm")
        kube.kubectl(
            "annotate",
            "--overwrite",
            f"crd/{name}",
            f"meta.helm.sh/release-name={release}",
            f"meta.helm.sh/release-namespace={namespace}",
        )


def _json(kube: Any, *args: str) -> Any:
    return json.loads(kube.kubectl("get", *args, "-o", "json").stdout)


def test_install_upgrade_uninstall(helm_kube: Helm, kube: Any) -> None:
    release, namespace = "authgate", f"ag-{uuid.uuid4().hex[:8]}"
    _adopt_existing(kube, release, namespace)
    helm_kube.run(
        "install",
        release,
        str(CHART),
        "--namespace",
        namespace,
        "--create-namespace",
        "--set",
        "provider.enabled=true",
        # A loopback issuer: an operator started later in the session must
        # never be sent to a real host by a leftover provider.
        "--set",
        "provider.spec.issuer=https://127.0.0.1:9/realms/platform",
        "--set",
        "provider.spec.clientId=authgate-cli",
        "--timeout",
        "120s",
    )
    try:
        for name in CRD_NAMES:
            kube.kubectl("wait", "--for=condition=Established", "--timeout=60s", f"crd/{name}")
        deployment = _json(kube, "-n", namespace, f"deployment/{release}")
        assert deployment["spec"]["replicas"] == 2
        provider = _json(kube, "-n", namespace, "oidcprovider/default")  # the post-install hook
        assert provider["spec"]["clientId"] == "authgate-cli"
        secret_before = _json(kube, "-n", namespace, f"secret/{release}-webhook-tls")["data"]
        webhook = _json(kube, f"mutatingwebhookconfiguration/{release}-sidecar-injector")
        for hook in webhook["webhooks"]:
            assert hook["clientConfig"]["caBundle"] == secret_before["ca.crt"]

        helm_kube.run(
            "upgrade",
            release,
            str(CHART),
            "--namespace",
            namespace,
            "--reuse-values",
            "--set",
            "operator.replicas=3",
            "--timeout",
            "120s",
        )
        assert _json(kube, "-n", namespace, f"deployment/{release}")["spec"]["replicas"] == 3
        secret_after = _json(kube, "-n", namespace, f"secret/{release}-webhook-tls")["data"]
        assert secret_after == secret_before, "upgrade must not rotate the webhook certificate"
        history = helm_kube.run("history", release, "--namespace", namespace, "-o", "json")
        assert [h["status"] for h in json.loads(history.stdout)] == ["superseded", "deployed"]
    finally:
        uninstall = helm_kube.run("uninstall", release, "--namespace", namespace, check=False)
    assert uninstall.returncode == 0, uninstall.stderr
    assert "kept due to the resource policy" in uninstall.stdout + uninstall.stderr
    gone = kube.kubectl("get", "-n", namespace, f"deployment/{release}", check=False)
    assert gone.returncode != 0 and "NotFound" in gone.stderr
    webhook_gone = kube.kubectl(
        "get", f"mutatingwebhookconfiguration/{release}-sidecar-injector", check=False
    )
    assert webhook_gone.returncode != 0
    for name in CRD_NAMES:  # crds.keep: the CRDs and the providers stay
        kube.kubectl("get", f"crd/{name}")
    kube.kubectl("get", "-n", namespace, "oidcprovider/default")
    kube.kubectl("delete", "-n", namespace, "oidcprovider/default", "--wait=false")

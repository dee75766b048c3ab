"""Point 9: ``helm uninstall`` keeps the CRD (and so every OIDCProvider) and
leaves nothing else of the release."""

from __future__ import annotations

import pytest

from .workloads import APP_NAMESPACE, PROVIDER, RELEASE, SYSTEM_NAMESPACE, Cluster, wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(600)]

INSTANCE = f"app.kubernetes.io/instance={RELEASE}"


def test_uninstall_keeps_the_crd_and_nothing_else(installed: Cluster) -> None:
    cluster = installed.cluster
    installed.helm.run(
        "uninstall", RELEASE, "-n", SYSTEM_NAMESPACE, "--wait", "--timeout", "180s", timeout=240
    )
    crd = installed.json("crd/oidcproviders.authgate.io")
    assert crd["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert installed.json("-n", APP_NAMESPACE, f"oidcprovider/{PROVIDER}")["spec"]["issuer"]

    def chart_objects() -> list[str]:
        kinds = (
            "deployments,replicasets,pods,services,secrets,configmaps,serviceaccounts,"
            "roles,rolebindings,poddisruptionbudgets"
        )
        names = cluster.kubectl("get", kinds, "-A", "-l", INSTANCE, "-o", "name").stdout.split()
        cluster_wide = cluster.kubectl(
            "get",
            "clusterroles,clusterrolebindings,mutatingwebhookconfigurations",
            "-l",
            INSTANCE,
            "-o",
            "name",
        ).stdout.split()
        return [n for n in names + cluster_wide if "customresourcedefinition" not in n]

    wait_for("every chart object to be gone", lambda: chart_objects() == [], timeout=120)
    crds = cluster.kubectl("get", "crd", "-l", INSTANCE, "-o", "name").stdout.split()
    assert "customresourcedefinition.apiextensions.k8s.io/oidcproviders.authgate.io" in crds

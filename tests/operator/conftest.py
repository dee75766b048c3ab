"""Fixtures for the operator's integration tests: the real API server (``kube``), real
Keycloak (``keycloak``) and the operator as a real subprocess (``python -m authgate operator``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from authgate.operator.crd import CRD_NAME, crd_manifest, peering_crd_manifests
from tests.support.idp import LocalIdP

from .operator_helpers import OperatorFleet, OperatorProcess, no_keys_idp


@pytest.fixture(scope="session")
def crds(kube: Any) -> None:
    """The OIDCProvider CRD (from the committed operator/crd.yaml) and kopf's peering CRDs."""
    crd_file = Path(__file__).resolve().parents[2] / "operator" / "crd.yaml"
    kube.kubectl("apply", "-f", str(crd_file))
    kube.kubectl(
        "apply", "-f", "-", input="---\n".join(yaml.safe_dump(d) for d in peering_crd_manifests())
    )
    for name in (CRD_NAME, "kopfpeerings.kopf.dev", "clusterkopfpeerings.kopf.dev"):
        kube.kubectl("wait", "--for=condition=Established", f"crd/{name}", "--timeout=60s")
    assert crd_manifest()["metadata"]["name"] == CRD_NAME


@pytest.fixture
def namespace(kube: Any, crds: None) -> str:
    """A fresh namespace per test (no controller-manager: namespaces are never finalized,
    so each test gets a new one)."""
    name = f"op-{uuid.uuid4().hex[:8]}"
    client.CoreV1Api(kube.api_client()).create_namespace({"metadata": {"name": name}})
    return name


@pytest.fixture
def start_operator(
    kube: Any, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Callable[..., OperatorProcess]]:
    fleet = OperatorFleet(kube, tmp_path, request)
    yield fleet
    fleet.stop()
    admission = client.AdmissionregistrationV1Api(kube.api_client())
    for name in {op.webhook_name for op in fleet.started}:
        try:
            admission.delete_mutating_webhook_configuration(name)
        except client.ApiException as exc:
            if exc.status != 404:
                raise


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.rep_call = report  # type: ignore[attr-defined]


@pytest.fixture
def fake_idp() -> Iterator[LocalIdP]:
    with no_keys_idp() as idp:
        yield idp

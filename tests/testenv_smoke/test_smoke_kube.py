"""The control plane works: real /version, CRDs become Established, watches stream."""

from __future__ import annotations

import re
import time

import pytest
from kubernetes import client, watch

pytestmark = [pytest.mark.k8s, pytest.mark.integration]

GROUP, VERSION, PLURAL = "smoke.authgate.io", "v1", "widgets"


def _crd() -> dict:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{PLURAL}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {"plural": PLURAL, "singular": "widget", "kind": "Widget"},
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {
                                    "type": "object",
                                    "properties": {"size": {"type": "integer"}},
                                }
                            },
                        }
                    },
                }
            ],
        },
    }


def test_server_reports_real_version(kube) -> None:
    assert re.fullmatch(r"v1\.(3[3-9]|[4-9]\d)\.\d+", kube.version), kube.version
    info = client.VersionApi(kube.api_client()).get_code()
    assert info.git_version == kube.version
    assert kube.kubectl("get", "--raw", "/readyz").stdout.strip() == "ok"


def test_crd_established_and_custom_object_watched(kube) -> None:
    api = kube.api_client()
    client.ApiextensionsV1Api(api).create_custom_resource_definition(_crd())
    established = False
    for _ in range(60):  # bounded: 30 s
        crd = client.ApiextensionsV1Api(api).read_custom_resource_definition(f"{PLURAL}.{GROUP}")
        conditions = {c.type: c.status for c in (crd.status.conditions or [])}
        if conditions.get("Established") == "True":
            established = True
            break
        time.sleep(0.5)
    assert established, "CRD never became Established"

    custom = client.CustomObjectsApi(api)
    start = custom.list_namespaced_custom_object(GROUP, VERSION, "default", PLURAL)
    custom.create_namespaced_custom_object(
        GROUP,
        VERSION,
        "default",
        PLURAL,
        {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "Widget",
            "metadata": {"name": "w1"},
            "spec": {"size": 3},
        },
    )
    events = watch.Watch().stream(
        custom.list_namespaced_custom_object,
        GROUP,
        VERSION,
        "default",
        PLURAL,
        resource_version=start["metadata"]["resourceVersion"],
        timeout_seconds=30,
    )
    first = next(iter(events))
    assert first["type"] == "ADDED"
    assert first["object"]["metadata"]["name"] == "w1"
    assert first["object"]["spec"]["size"] == 3


def test_rbac_is_enforced(kube) -> None:
    result = kube.kubectl(
        "auth",
        "can-i",
        "list",
        "secrets",
        "--as=system:serviceaccount:default:nobody",
        check=False,
    )
    assert result.stdout.strip() == "no"
    assert kube.kubectl("auth", "can-i", "list", "secrets").stdout.strip() == "yes"

"""Point 8's workload (issue 18, and issue 13's pod-to-pod item): a pod in ``jobs``
calls the ``orders`` Service with its projected service-account token, through
the SDK's ``AUTHGATE_TOKEN_FILE``, across a rotation of that token by the kubelet.

The kubelet renews a projected token once 80 % of its lifetime has passed (minus
up to 10 s of jitter), and the API server refuses lifetimes under 10 minutes,
so the first rotation comes about 8 minutes after the pod starts. That wait
overlaps the rest of the suite: :func:`start` is called by the ``installed``
fixture, the caller runs by itself (``CALLER_SCRIPT``) and prints one JSON
summary when it has made requests with two kubelet-written tokens, and the test
module only reads that summary.
"""

from __future__ import annotations

import json
from typing import Any

from .workloads import APP_CONTAINER_LIMITS, Cluster, app_pod_spec, apply, provider_manifest

SERVER_NAMESPACE = "orders"
CALLER_NAMESPACE = "jobs"
CALLER_ACCOUNT = "caller"
CALLER_POD = "caller"
SA_AUDIENCE = "https://orders.authgate.test"
TOKEN_SECONDS = 600  # the API server's minimum
TOKEN_DIR = "/var/run/secrets/tokens"
#: How long the caller keeps calling after its first 200 if no rotation comes.
RUN_SECONDS = 720

# Runs in the authgate image (the SDK is its client package). Failures before the
# first 200 are the server pod starting; from then on every request must succeed.
CALLER_SCRIPT = r"""
import base64, json, os, sys, time
import httpx
from authgate.client import Client
from authgate.client.errors import ClientError

def claims(token):
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))

base = os.environ["AUTHGATE_BASE_URL"]
# The pod's default token (audience: the API server) is not for this platform.
default = open("/var/run/secrets/kubernetes.io/serviceaccount/token").read().strip()
refused = httpx.get(base + "/api/orders", headers={"Authorization": "Bearer " + default},
                    timeout=10)
client = Client(timeout=10)
started, first_ok = time.monotonic(), None
tokens, sent, failed, after, identity, errors = [], 0, 0, 0, {}, []
while True:
    now = time.monotonic()
    if first_ok is None and now - started > 300:
        break
    if first_ok is not None and (now - first_ok > float(os.environ["RUN_SECONDS"])
                                 or (len(tokens) >= 2 and after >= 20)):
        break
    try:
        token = client.token()
        iat = claims(token)["iat"]
        response = client.get("/api/orders")
        headers = {k.lower(): v for k, v in response.json()["headers"]}
        if first_ok is None:
            first_ok = time.monotonic()
        if not tokens or tokens[-1]["iat"] != iat:
            tokens.append({"iat": iat, "exp": claims(token)["exp"], "at": round(now - started, 1)})
        identity = {k: headers.get(k) for k in ("x-nmp-principal-id", "x-nmp-principal-pod",
                                                "x-nmp-principal-groups", "x-nmp-scopes")}
        sent += 1
        after += len(tokens) >= 2
    except (ClientError, KeyError, ValueError) as exc:
        if first_ok is not None:
            sent += 1
            failed += 1
            errors.append(f"{type(exc).__name__}: {exc}"[:300])
    time.sleep(0.5)
print(json.dumps({"summary": {
    "sent": sent, "failed": failed, "errors": errors[:10], "tokens": tokens,
    "identity": identity, "default_token": [refused.status_code,
                                            refused.json().get("reason")],
    "source": client.credential_source.kind,
    "first_ok_after": None if first_ok is None else round(first_ok - started, 1)}}))
sys.exit(0 if first_ok is not None else 1)
"""


def orders_provider(installed: Cluster) -> dict[str, Any]:
    """The IdP as everywhere, plus the cluster's service-account issuer for SA_AUDIENCE;
    only ``jobs/caller`` is listed, with read scope."""
    manifest = provider_manifest(installed.keycloak, ["platform:read"])
    manifest["metadata"] = {"name": "orders", "namespace": SERVER_NAMESPACE}
    # Not a default: the operator's discovery describes the one default provider, and two
    # defaults (shop's and this) would make it answer 409. The pods name it instead.
    manifest["spec"]["default"] = False
    manifest["spec"]["issuers"] = [
        {
            "name": "cluster",
            "kind": "kubernetes",
            "issuer": installed.cluster.kube.server,  # the API server's --service-account-issuer
            "audience": [SA_AUDIENCE],
            "kubernetes": {
                "apiServer": "https://kubernetes.default.svc",
                "allowedServiceAccounts": [
                    {
                        "namespace": CALLER_NAMESPACE,
                        "name": CALLER_ACCOUNT,
                        "scopes": ["platform:read"],
                    }
                ],
            },
        }
    ]
    return manifest


def _manifests(installed: Cluster) -> list[dict[str, Any]]:
    demo, authgate = installed.demo.tag, installed.authgate.tag
    server_pod = app_pod_spec(demo)
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": SERVER_NAMESPACE}},
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": CALLER_NAMESPACE}},
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": CALLER_ACCOUNT, "namespace": CALLER_NAMESPACE},
        },
        orders_provider(installed),
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "orders", "namespace": SERVER_NAMESPACE},
            "spec": {
                "selector": {"app": "orders"},
                "ports": [{"name": "http", "port": 80, "targetPort": "http"}],
            },
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "orders", "namespace": SERVER_NAMESPACE},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "orders"}},
                "template": {
                    "metadata": {
                        "labels": {"app": "orders"},
                        "annotations": {
                            "authgate.io/inject": "true",
                            "authgate.io/provider": "orders",
                        },
                    },
                    "spec": server_pod,
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": CALLER_POD, "namespace": CALLER_NAMESPACE},
            "spec": {
                "serviceAccountName": CALLER_ACCOUNT,
                "restartPolicy": "Never",
                "containers": [
                    {
                        "name": "caller",
                        "image": authgate,
                        "imagePullPolicy": "Never",
                        "command": ["python", "-c", CALLER_SCRIPT],
                        "env": [
                            {
                                "name": "AUTHGATE_BASE_URL",
                                "value": f"http://orders.{SERVER_NAMESPACE}.svc",
                            },
                            {"name": "AUTHGATE_TOKEN_FILE", "value": f"{TOKEN_DIR}/platform"},
                            {"name": "RUN_SECONDS", "value": str(RUN_SECONDS)},
                        ],
                        **APP_CONTAINER_LIMITS,
                        "volumeMounts": [
                            {"name": "platform-token", "mountPath": TOKEN_DIR, "readOnly": True},
                            {"name": "tmp", "mountPath": "/tmp"},
                        ],
                    }
                ],
                "volumes": [
                    {
                        "name": "platform-token",
                        "projected": {
                            "sources": [
                                {
                                    "serviceAccountToken": {
                                        "audience": SA_AUDIENCE,
                                        "expirationSeconds": TOKEN_SECONDS,
                                        "path": "platform",
                                    }
                                }
                            ]
                        },
                    },
                    {"name": "tmp", "emptyDir": {}},
                ],
            },
        },
    ]


def start(installed: Cluster) -> None:
    """Create the server (injected, its provider accepting the cluster's tokens) and the
    caller; nothing waits here (the caller retries until the server answers)."""
    for manifest in _manifests(installed):
        apply(installed.cluster, manifest)


def caller_summary(installed: Cluster) -> dict[str, Any] | None:
    """The caller's summary once it has finished, else ``None``."""
    pod = installed.json("-n", CALLER_NAMESPACE, f"pod/{CALLER_POD}")
    if pod["status"].get("phase") not in ("Succeeded", "Failed"):
        return None
    logs = installed.cluster.kubectl("logs", "-n", CALLER_NAMESPACE, f"pod/{CALLER_POD}").stdout
    for line in reversed(logs.strip().splitlines()):
        if line.startswith('{"summary"'):
            return dict(json.loads(line)["summary"])
    raise AssertionError(
        f"the caller ended ({pod['status']['phase']}) without a summary: {logs[-3000:]}"
    )

"""The sidecar-injection pod patch, as a pure function of the pod.

:func:`inject` takes a pod (as the API server sends it in an AdmissionReview)
and returns the pod as it must be stored; the webhook turns the difference into
a JSON Patch (RFC 6902).  Nothing here talks to the network, so every rule is
unit-tested on plain dictionaries.

Port takeover
    A Service reaches the app through a *named* port (``targetPort: http``).
    The sidecar takes that name over with its own port number
    (:attr:`SidecarSettings.listen_port`), the app's port is renamed
    (``authgate-app``) and keeps its number, and the proxy forwards to
    ``http://127.0.0.1:<app port>``.  We cannot change the port the app listens
    on, so renaming is the only move that needs no cooperation from the app;
    probes of any container that referred to the old name are re-pointed to the
    renamed port so the kubelet keeps probing the app directly.

Native sidecar
    The proxy is an initContainer with ``restartPolicy: Always`` (KEP-753): it
    starts before the app containers, stays up, and stops after them.

Service-account credentials
    A provider with a ``kind: kubernetes`` issuer makes the sidecar fetch the
    cluster's keys with the in-pod CA and its own token.  The ServiceAccount
    admission plugin runs before webhooks, so the pod's containers already
    mount that volume at :data:`SERVICE_ACCOUNT_DIR` and the sidecar we add
    does not: the sidecar gets the same mount, read-only, and only then.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from authgate.core.contracts import (
    CONFIG_FILE_NAME,
    INJECT_ANNOTATION,
    INJECTED_ANNOTATION,
    NAMESPACE_INJECTION_LABEL,
    PORT_ANNOTATION,
    PROVIDER_ANNOTATION,
)

from .settings import SidecarSettings

__all__ = [
    "DEFAULT_PORT_NAME",
    "InjectionRefused",
    "ProviderRef",
    "already_injected",
    "inject",
    "opted_in",
    "provider_reference",
    "service_account_mount",
    "sidecar_container",
]

DEFAULT_PORT_NAME = "http"
#: Where the ServiceAccount admission plugin mounts the pod's token, CA and namespace.
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
_PROBES = ("livenessProbe", "readinessProbe", "startupProbe")


class InjectionRefused(Exception):
    """The pod opted in but cannot be injected safely; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class ProviderRef:
    """The provider a pod is injected for, and the ConfigMap the sidecar mounts."""

    namespace: str
    name: str
    config_map: str
    #: The provider accepts the cluster's service-account tokens (a ``kind: kubernetes``
    #: issuer): the sidecar needs the pod's service-account mount to fetch the keys.
    service_account: bool = False


def _annotations(pod: Mapping[str, Any]) -> Mapping[str, str]:
    return (pod.get("metadata") or {}).get("annotations") or {}


def opted_in(pod: Mapping[str, Any], namespace_labels: Mapping[str, str]) -> bool:
    """Whether the pod asked for the sidecar: ``authgate.io/inject: "true"``, or its namespace
    is labelled ``authgate.io/injection=enabled`` and the pod did not say ``"false"``."""
    value = _annotations(pod).get(INJECT_ANNOTATION, "").strip().lower()
    if value == "true":
        return True
    if value == "false":
        return False
    return namespace_labels.get(NAMESPACE_INJECTION_LABEL) == "enabled"


def already_injected(pod: Mapping[str, Any], settings: SidecarSettings) -> bool:
    """True when an earlier webhook call (or a human) already added the sidecar."""
    if INJECTED_ANNOTATION in _annotations(pod):
        return True
    spec = pod.get("spec") or {}
    containers = (spec.get("initContainers") or []) + (spec.get("containers") or [])
    names = {c.get("name") for c in containers}
    return settings.container_name in names


def provider_reference(pod: Mapping[str, Any], namespace: str) -> str | None:
    """The provider name the pod names (``authgate.io/provider``), or ``None`` for the
    namespace's default.  Providers are looked up in the pod's own namespace only: a
    ConfigMap volume can only mount a ConfigMap of the pod's namespace."""
    value = _annotations(pod).get(PROVIDER_ANNOTATION, "").strip()
    if not value:
        return None
    if "/" in value:
        other, _, name = value.partition("/")
        if other != namespace:
            raise InjectionRefused(
                f"{PROVIDER_ANNOTATION}={value!r} names a provider in namespace {other!r}, but a "
                f"pod can only mount config from its own namespace ({namespace!r}): create the "
                f"OIDCProvider in {namespace!r}"
            )
        return name
    return value


def _find_app_port(pod: Mapping[str, Any], ref: str) -> tuple[int, int, dict[str, Any]]:
    """(container index, port index, port) of the port ``ref`` (name or number)."""
    containers = (pod.get("spec") or {}).get("containers") or []
    for ci, container in enumerate(containers):
        for pi, port in enumerate(container.get("ports") or []):
            if port.get("name") == ref or (ref.isdigit() and port.get("containerPort") == int(ref)):
                return ci, pi, port
    raise InjectionRefused(
        f"no container port named {ref!r} to put the authgate sidecar in front of: give the "
        f"app's port that name, or set the pod annotation {PORT_ANNOTATION} to its name or number"
    )


def _check_collisions(pod: Mapping[str, Any], settings: SidecarSettings) -> None:
    spec = pod.get("spec") or {}
    containers = (spec.get("initContainers") or []) + (spec.get("containers") or [])
    for container in containers:
        for port in container.get("ports") or []:
            number, name = port.get("containerPort"), port.get("name")
            if number in (settings.listen_port, settings.admin_port):
                raise InjectionRefused(
                    f"container {container.get('name')!r} already uses port {number}, which the "
                    "authgate sidecar needs (operator settings: sidecar listen/admin port)"
                )
            if name in (settings.admin_port_name, settings.app_port_rename):
                raise InjectionRefused(
                    f"container {container.get('name')!r} already has a port named {name!r}, "
                    "which the authgate sidecar needs"
                )
    volumes = {v.get("name") for v in spec.get("volumes") or []}
    for name in (settings.volume_name, settings.tmp_volume_name):
        if name in volumes:
            raise InjectionRefused(f"the pod already has a volume named {name!r}")


def sidecar_container(
    settings: SidecarSettings, port_name: str, app_port: int, upstream_scheme: str = "http"
) -> dict[str, Any]:
    """The native-sidecar initContainer running the proxy."""
    res = settings.resources
    limits: dict[str, str] = {"memory": res.memory_limit}
    if res.cpu_limit:
        limits["cpu"] = res.cpu_limit
    admin = settings.admin_port_name
    return {
        "name": settings.container_name,
        "image": settings.image,
        "imagePullPolicy": settings.image_pull_policy,
        "restartPolicy": "Always",
        "command": [*settings.command, "--config", f"{settings.config_dir}/{CONFIG_FILE_NAME}"],
        "env": [
            {
                "name": "AUTHGATE__UPSTREAM__URL",
                "value": f"{upstream_scheme}://127.0.0.1:{app_port}",
            },
            {"name": "AUTHGATE__LISTEN__PORT", "value": str(settings.listen_port)},
            {"name": "AUTHGATE__ADMIN__PORT", "value": str(settings.admin_port)},
        ],
        "ports": [
            {"name": port_name, "containerPort": settings.listen_port, "protocol": "TCP"},
            {"name": admin, "containerPort": settings.admin_port, "protocol": "TCP"},
        ],
        "startupProbe": {
            "httpGet": {"path": "/healthz", "port": admin},
            "periodSeconds": 1,
            "failureThreshold": 60,
        },
        "readinessProbe": {
            "httpGet": {"path": "/readyz", "port": admin},
            "periodSeconds": 5,
            "failureThreshold": 3,
        },
        "livenessProbe": {
            "httpGet": {"path": "/healthz", "port": admin},
            "periodSeconds": 10,
            "failureThreshold": 3,
        },
        "resources": {
            "requests": {"cpu": res.cpu_request, "memory": res.memory_request},
            "limits": limits,
        },
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": settings.run_as_user,
            "runAsGroup": settings.run_as_user,
            "readOnlyRootFilesystem": True,
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "volumeMounts": [
            {"name": settings.volume_name, "mountPath": settings.config_dir, "readOnly": True},
            {"name": settings.tmp_volume_name, "mountPath": "/tmp"},  # noqa: S108 - emptyDir
        ],
    }


def service_account_mount(pod: Mapping[str, Any]) -> dict[str, Any] | None:
    """The pod's service-account volume mount (read-only copy), as the ServiceAccount
    admission plugin put it on the app containers; ``None`` if it did not (automount off)."""
    spec = pod.get("spec") or {}
    for container in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        for mount in container.get("volumeMounts") or []:
            if mount.get("mountPath", "").rstrip("/") == SERVICE_ACCOUNT_DIR:
                return {"name": mount["name"], "mountPath": SERVICE_ACCOUNT_DIR, "readOnly": True}
    return None


def _repoint_probes(container: dict[str, Any], old: str, new: str) -> None:
    for probe_name in _PROBES:
        probe = container.get(probe_name)
        if not isinstance(probe, dict):
            continue
        for kind in ("httpGet", "tcpSocket", "grpc"):
            action = probe.get(kind)
            if isinstance(action, dict) and action.get("port") == old:
                action["port"] = new


def inject(
    pod: Mapping[str, Any], provider: ProviderRef, settings: SidecarSettings
) -> dict[str, Any]:
    """The pod with the sidecar injected (a new dict; ``pod`` is not modified).

    Idempotent: a pod that is already injected comes back unchanged.  Raises
    :class:`InjectionRefused` when the pod cannot be protected as asked.
    """
    out: dict[str, Any] = copy.deepcopy(dict(pod))
    if already_injected(out, settings):
        return out
    ref = _annotations(out).get(PORT_ANNOTATION, "").strip() or DEFAULT_PORT_NAME
    _check_collisions(out, settings)
    _, _, app_port = _find_app_port(out, ref)
    number = int(app_port["containerPort"])
    old_name = app_port.get("name")
    port_name = old_name or "authgate-http"

    spec = out.setdefault("spec", {})
    app_port["name"] = settings.app_port_rename
    if old_name:
        for container in (spec.get("initContainers") or []) + (spec.get("containers") or []):
            _repoint_probes(container, old_name, settings.app_port_rename)

    sidecar = sidecar_container(settings, port_name, number)
    if provider.service_account:
        mount = service_account_mount(out)
        if mount is None:
            raise InjectionRefused(
                f"OIDCProvider {provider.namespace}/{provider.name} accepts service-account "
                "tokens, so its sidecar needs the pod's service-account token to fetch the "
                "cluster's keys, but the pod mounts none: remove "
                "automountServiceAccountToken: false"
            )
        sidecar["volumeMounts"].append(mount)
    spec.setdefault("initContainers", []).append(sidecar)
    spec.setdefault("volumes", []).extend(
        [
            {"name": settings.volume_name, "configMap": {"name": provider.config_map}},
            {"name": settings.tmp_volume_name, "emptyDir": {"sizeLimit": "16Mi"}},
        ]
    )
    meta = out.setdefault("metadata", {})
    annotations = meta.get("annotations") or {}
    meta["annotations"] = annotations
    annotations[INJECTED_ANNOTATION] = "true"
    annotations.setdefault(PROVIDER_ANNOTATION, provider.name)
    return out

"""The operator's own settings: frozen, documented, built once from the CLI.

Everything the operator decides for the pods it injects (image, ports,
resources, security) and for itself (namespaces, timings, webhook policy) is in
one place, so the injection patch, the rendered proxy config and the webhook
configuration can never disagree on, say, the sidecar's listen port.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .accesskeys.settings import AccessKeySettings


@dataclass(frozen=True, slots=True)
class ResourceSettings:
    """Requests and limits of the injected sidecar (Kubernetes quantity strings)."""

    cpu_request: str = "50m"
    memory_request: str = "64Mi"
    memory_limit: str = "256Mi"
    cpu_limit: str | None = (
        None  # no CPU limit by default: throttling adds latency to every request
    )


@dataclass(frozen=True, slots=True)
class SidecarSettings:
    """The container the webhook injects in front of the application."""

    #: Image of the proxy (the same image runs the operator).
    image: str = "authgate:latest"
    image_pull_policy: str = "IfNotPresent"
    #: Command of the sidecar; the config path is appended after ``--config``.
    command: tuple[str, ...] = ("authgate", "proxy")
    #: Name of the injected initContainer (native sidecar).
    container_name: str = "authgate-proxy"
    #: Port the proxy listens on for client traffic; it takes over the app port's *name*.
    listen_port: int = 4180
    #: Port of /healthz, /readyz and /metrics (probes target it by the name ``admin_port_name``).
    admin_port: int = 4181
    admin_port_name: str = "authgate-admin"
    #: New name of the application's port once the sidecar has taken over its name.
    app_port_rename: str = "authgate-app"
    #: Where the ConfigMap is mounted in the sidecar (``config.yaml`` and ``ca.crt`` inside).
    config_dir: str = "/etc/authgate"
    volume_name: str = "authgate-config"
    tmp_volume_name: str = "authgate-tmp"
    #: UID the sidecar runs as (non-root; the image's ``nonroot`` user).
    run_as_user: int = 65532
    resources: ResourceSettings = field(default_factory=ResourceSettings)


@dataclass(frozen=True, slots=True)
class WebhookSettings:
    """The sidecar-injection admission webhook."""

    #: Port of the HTTPS admission server (every replica serves it).
    port: int = 9443
    #: Address the server binds.
    listen_address: str = "0.0.0.0"
    #: Host name/IP the API server uses to reach the server; goes into the certificate's SANs
    #: and, with ``register``, into the webhook configuration's ``clientConfig.url``.
    host: str | None = None
    #: Create/update the MutatingWebhookConfiguration ourselves (for an operator that runs
    #: outside the cluster, e.g. in tests); in-cluster the Helm chart owns it.
    register: bool = False
    configuration_name: str = "authgate-sidecar-injector"
    #: ``Fail``: an opted-in pod is never admitted without its sidecar (see docs/operator.md).
    failure_policy: str = "Fail"
    timeout_seconds: int = 10
    #: Namespaces never injected, whatever their labels or the pod's annotations.
    excluded_namespaces: tuple[str, ...] = ("kube-system", "kube-public", "kube-node-lease")
    #: Directory for the generated serving certificate (``tls.crt``/``tls.key``/``ca.crt``);
    #: when it already holds a certificate (e.g. a mounted Secret) that one is used.
    cert_dir: str | None = None


@dataclass(frozen=True, slots=True)
class OperatorSettings:
    """The operator process."""

    #: Namespaces whose OIDCProviders are reconciled; empty with ``all_namespaces``.
    namespaces: tuple[str, ...] = ()
    all_namespaces: bool = False
    #: kopf peering object name; ``None`` runs standalone (a single replica).
    peering: str | None = "authgate"
    #: Address and port of the discovery / health / metrics server.
    discovery_address: str = "0.0.0.0"
    discovery_port: int = 8080
    #: How often each replica re-lists OIDCProviders for the discovery index.
    discovery_refresh_seconds: float = 2.0
    #: Periodic re-check of every provider's IdP (turns Ready back on after an outage).
    recheck_interval_seconds: float = 30.0
    #: Backoff of a failing reconcile: min(base * 2**retry, max) seconds.
    backoff_base_seconds: float = 2.0
    backoff_max_seconds: float = 60.0
    #: Timeout of each discovery / JWKS request made by the operator.
    fetch_timeout_seconds: float = 5.0
    sidecar: SidecarSettings = field(default_factory=SidecarSettings)
    webhook: WebhookSettings = field(default_factory=WebhookSettings)
    access_keys: AccessKeySettings = field(default_factory=AccessKeySettings)

    def backoff(self, retry: int) -> float:
        """Delay before retry number ``retry`` (0-based) of a failing reconcile."""
        return float(
            min(self.backoff_base_seconds * (2 ** max(retry, 0)), self.backoff_max_seconds)
        )

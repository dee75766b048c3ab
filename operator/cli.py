"""``authgate operator``: run the operator; ``authgate operator crd``: print its CRD.

The heavy imports (kopf, the kubernetes client) happen only when the operator
actually runs, so ``authgate operator crd`` works in a bare CI job that just
templates manifests.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from .accesskeys.settings import AccessKeySettings
from .settings import OperatorSettings, SidecarSettings, WebhookSettings

__all__ = ["operator_command"]


F = TypeVar("F", bound=Callable[..., Any])


def _seconds_option(flag: str, default: float, text: str) -> Callable[[F], F]:
    """A duration flag in seconds: a float, its default shown in ``--help``."""
    return click.option(flag, type=float, default=default, show_default=True, help=text)


#: The access-key durations: (flag, AccessKeySettings field, help).
_ACCESS_KEY_DURATIONS = (
    (
        "--access-key-rotation",
        "rotation_seconds",
        "Seconds a signing key signs before a successor takes over.",
    ),
    (
        "--access-key-prepublish",
        "prepublish_seconds",
        "Seconds a new signing key is published before it signs.",
    ),
    (
        "--access-key-gc-interval",
        "gc_interval_seconds",
        "Seconds between access-key phase updates and garbage collection.",
    ),
)


def _access_key_durations(command: F) -> F:
    """The ``--access-key-*`` duration flags, their defaults read from AccessKeySettings."""
    defaults = AccessKeySettings()
    for flag, field, text in reversed(_ACCESS_KEY_DURATIONS):
        command = _seconds_option(flag, getattr(defaults, field), text)(command)
    return command


@click.group(name="operator", invoke_without_command=True)
@click.option(
    "--namespace",
    "-n",
    "namespaces",
    multiple=True,
    help="Namespace whose OIDCProviders are served (repeatable).",
)
@click.option("--all-namespaces", "-A", is_flag=True, help="Serve OIDCProviders cluster-wide.")
@click.option(
    "--peering",
    default="authgate",
    show_default=True,
    help="kopf peering object name: replicas sharing it elect one active reconciler.",
)
@click.option(
    "--standalone", is_flag=True, help="No peering (a single replica; no KopfPeering CRD needed)."
)
@click.option("--discovery-address", default="0.0.0.0", show_default=True)
@click.option(
    "--discovery-port",
    type=int,
    default=8080,
    show_default=True,
    help="Port of /apis/auth/discovery, /healthz, /readyz and /metrics.",
)
@click.option(
    "--webhook-port",
    type=int,
    default=9443,
    show_default=True,
    help="Port of the HTTPS sidecar-injection webhook; 0 disables the webhook.",
)
@click.option("--webhook-address", default="0.0.0.0", show_default=True)
@click.option(
    "--webhook-host",
    default=None,
    help="Host/IP the API server uses to reach the webhook (certificate SAN; "
    "with --register-webhook also the clientConfig URL).",
)
@click.option(
    "--register-webhook",
    is_flag=True,
    help="Create/update the MutatingWebhookConfiguration (operator outside the cluster).",
)
@click.option(
    "--webhook-name",
    default=WebhookSettings().configuration_name,
    show_default=True,
    help="Name of the MutatingWebhookConfiguration --register-webhook maintains.",
)
@click.option(
    "--cert-dir",
    default=None,
    help="Webhook certificate dir (ca.crt, tls.crt, tls.key); generated when empty.",
)
@click.option("--sidecar-image", default=SidecarSettings().image, show_default=True)
@_seconds_option("--recheck-interval", 30.0, "Seconds between IdP re-checks of each provider.")
@_seconds_option("--fetch-timeout", 5.0, "Timeout of each discovery/JWKS request, seconds.")
@click.option(
    "--public-url",
    default=None,
    help="Base URL sidecars reach this operator at; the access-key issuer is "
    "<public-url>/apis/auth/v2/issuers/<namespace>/<provider>.",
)
@_access_key_durations
@click.option("--verbose", "-v", is_flag=True, help="Debug logging.")
@click.pass_context
def operator_command(
    ctx: click.Context,
    namespaces: tuple[str, ...],
    all_namespaces: bool,
    peering: str,
    standalone: bool,
    discovery_address: str,
    discovery_port: int,
    webhook_port: int,
    webhook_address: str,
    webhook_host: str | None,
    register_webhook: bool,
    webhook_name: str,
    cert_dir: str | None,
    sidecar_image: str,
    recheck_interval: float,
    fetch_timeout: float,
    public_url: str | None,
    access_key_rotation: float,
    access_key_prepublish: float,
    access_key_gc_interval: float,
    verbose: bool,
) -> None:
    """Run the authgate operator: OIDCProvider -> proxy config, status, discovery, injection."""
    if ctx.invoked_subcommand is not None:
        return
    if not namespaces and not all_namespaces:
        raise click.UsageError("pass --namespace NAME (repeatable) or --all-namespaces")
    if namespaces and all_namespaces:
        raise click.UsageError("--namespace and --all-namespaces are exclusive")
    settings = OperatorSettings(
        namespaces=namespaces,
        all_namespaces=all_namespaces,
        peering=None if standalone else peering,
        discovery_address=discovery_address,
        discovery_port=discovery_port,
        recheck_interval_seconds=recheck_interval,
        fetch_timeout_seconds=fetch_timeout,
        sidecar=SidecarSettings(image=sidecar_image),
        webhook=WebhookSettings(
            port=webhook_port,
            listen_address=webhook_address,
            host=webhook_host,
            register=register_webhook,
            configuration_name=webhook_name,
            cert_dir=cert_dir,
        ),
        access_keys=AccessKeySettings(
            public_url=public_url,
            rotation_seconds=access_key_rotation,
            prepublish_seconds=access_key_prepublish,
            gc_interval_seconds=access_key_gc_interval,
        ),
    )
    from .runner import OperatorStartupError, run

    try:
        run(settings, verbose=verbose)
    except OperatorStartupError as exc:
        click.echo(f"authgate operator: {exc}", err=True)
        sys.exit(2)


@operator_command.command(name="crd")
@click.option(
    "--peering",
    "with_peering",
    is_flag=True,
    help="Also print kopf's peering CRDs (needed unless the operator runs --standalone).",
)
def crd_command(with_peering: bool) -> None:
    """Print the OIDCProvider and AccessKey CustomResourceDefinitions as YAML
    (for kubectl apply / Helm)."""
    from .accesskeys.crd import access_key_crd_manifest
    from .crd import crd_manifest, peering_crd_manifests
    from .render import dump_yaml

    docs = [
        crd_manifest(),
        access_key_crd_manifest(),
        *(peering_crd_manifests() if with_peering else []),
    ]
    click.echo("---\n".join(dump_yaml(d) for d in docs), nl=False)

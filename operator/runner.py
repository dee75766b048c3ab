"""Starting the operator: preflight checks, kopf, the discovery server, the webhook.

Preflight fails fast and says what to do (exit code 2) instead of letting kopf
wait forever: the OIDCProvider CRD must be installed, and, unless
``--standalone``, kopf's peering CRD too.  kopf never creates the peering
object itself (it only patches it), so the operator does; each replica takes a
random peering priority, because kopf pauses *every* replica when two share
the same priority.

Every replica serves discovery and the webhook; kopf peering makes one of them
the only reconciler.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import secrets
import tempfile
from typing import Any

import kopf

from .accesskeys.api import AccessKeyApi
from .accesskeys.service import AccessKeyService
from .certs import ServingCert, ensure_serving_cert
from .crd import CRD_NAME
from .discovery import DiscoveryServer, ProviderIndex
from .kube import ApiException, Kube, load_client_config
from .metrics import OperatorMetrics
from .reconcile import Reconciler
from .render import render_document
from .settings import OperatorSettings
from .webhook import HANDLER_ID, Injector, webhook_configuration

__all__ = ["OperatorStartupError", "run"]

log = logging.getLogger("authgate.operator")

FINALIZER = "authgate.io/finalizer"


class OperatorStartupError(Exception):
    """The operator cannot start; the message says what to do."""


async def _preflight(settings: OperatorSettings, kube: Kube) -> None:
    try:
        if not await kube.crd_exists(CRD_NAME):
            raise OperatorStartupError(
                f"CRD {CRD_NAME} is not installed: authgate operator crd | kubectl apply -f -"
            )
        if settings.peering is None:
            return
        peering_crd = (
            "clusterkopfpeerings.kopf.dev" if settings.all_namespaces else ("kopfpeerings.kopf.dev")
        )
        if not await kube.crd_exists(peering_crd):
            raise OperatorStartupError(
                f"peering CRD {peering_crd} is not installed: "
                "authgate operator crd --peering | kubectl apply -f -  (or run with --standalone)"
            )
        if settings.all_namespaces:
            await kube.ensure_peering(settings.peering, None)
        else:
            for ns in settings.namespaces:
                await kube.ensure_peering(settings.peering, ns)
    except ApiException as exc:
        raise OperatorStartupError(f"Kubernetes API: HTTP {exc.status} {exc.reason}") from None
    except OperatorStartupError:
        raise
    except Exception as exc:  # connection refused, TLS, DNS: urllib3 wraps them all
        raise OperatorStartupError(f"cannot reach the Kubernetes API: {exc}") from None


def _serving_cert(settings: OperatorSettings) -> ServingCert:
    host = settings.webhook.host or "127.0.0.1"
    names = [host, "localhost", "127.0.0.1"]
    directory = settings.webhook.cert_dir or tempfile.mkdtemp(prefix="authgate-webhook-")
    return ensure_serving_cert(directory, names)


async def _register_webhook(settings: OperatorSettings, kube: Kube, cert: ServingCert) -> None:
    """Wait until our webhook port accepts connections, then point the API server at it."""
    hook = settings.webhook
    host = hook.host or "127.0.0.1"
    for _ in range(600):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", hook.port)
        except OSError:
            await asyncio.sleep(0.1)
            continue
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        break
    client_config = {
        "url": f"https://{host}:{hook.port}/{HANDLER_ID}",
        "caBundle": base64.b64encode(cert.ca_pem).decode("ascii"),
    }
    manifest = webhook_configuration(settings, client_config)
    for attempt in range(10):
        try:
            await kube.apply_mutating_webhook(manifest)
            log.info(
                "registered webhook configuration %s -> %s",
                hook.configuration_name,
                client_config["url"],
            )
            return
        except ApiException as exc:
            log.warning("registering the webhook failed (HTTP %s); retrying", exc.status)
            await asyncio.sleep(min(2**attempt, 10))


async def _main(settings: OperatorSettings, priority: int) -> None:
    kube = Kube()
    await _preflight(settings, kube)
    index = ProviderIndex()
    metrics = OperatorMetrics()
    registry = kopf.OperatorRegistry()
    Reconciler(settings, kube, index, metrics).register(registry)
    cert: ServingCert | None = None
    if settings.webhook.port:
        try:
            cert = _serving_cert(settings)
        except OSError as exc:
            raise OperatorStartupError(
                f"webhook certificate: {exc} (mount tls.crt/tls.key into --cert-dir, "
                "or make it writable so the operator can generate them)"
            ) from None
        Injector(settings, kube, index, metrics).register(registry)

    ops = settings

    @kopf.on.login(registry=registry)
    def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        # kopf's default login handlers live in its default registry, not in ours.
        return kopf.login_via_client(**kwargs)

    @kopf.on.startup(registry=registry)
    def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
        settings.persistence.finalizer = FINALIZER
        settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(
            prefix="authgate.io"
        )
        settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
            prefix="authgate.io", key="last-handled-configuration"
        )
        settings.posting.level = logging.WARNING  # our own Events are posted explicitly
        settings.watching.server_timeout = 300
        settings.watching.client_timeout = 330
        settings.networking.request_timeout = 30
        if cert is not None:
            settings.admission.server = kopf.WebhookServer(
                addr=ops.webhook.listen_address,
                port=ops.webhook.port,
                host=ops.webhook.host or "127.0.0.1",
                certfile=str(cert.cert_file),
                pkeyfile=str(cert.key_file),
                cafile=str(cert.ca_file),
            )
            settings.admission.managed = None  # we register our own, with deliberate selectors

    access_keys = AccessKeyService(settings, kube, render_document)
    discovery = DiscoveryServer(
        settings,
        index,
        metrics,
        kube.list_providers,
        kube.read_configmap,
        (AccessKeyApi(access_keys).register,),
    )
    await access_keys.start()
    await discovery.start()
    tasks: list[asyncio.Task[None]] = []
    if cert is not None and settings.webhook.register:
        tasks.append(asyncio.create_task(_register_webhook(settings, kube, cert)))
    try:
        await kopf.operator(
            registry=registry,
            standalone=settings.peering is None,
            peering_name=settings.peering,
            priority=priority,
            clusterwide=settings.all_namespaces,
            namespaces=() if settings.all_namespaces else settings.namespaces,
        )
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await discovery.stop()
        await access_keys.stop()


def run(settings: OperatorSettings, *, verbose: bool = False, priority: int | None = None) -> None:
    """Run until SIGTERM/SIGINT.  Raises :class:`OperatorStartupError` on a failed preflight."""
    kopf.configure(verbose=verbose, log_format=kopf.LogFormat.JSON)
    try:
        load_client_config()
    except Exception as exc:  # ConfigException, unreadable files, …
        raise OperatorStartupError(f"no Kubernetes credentials: {exc}") from None
    prio = priority if priority is not None else 1 + secrets.randbelow(1 << 30)
    asyncio.run(_main(settings, prio))

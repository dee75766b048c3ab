"""The sidecar-injection admission webhook (kopf ``@kopf.on.mutate`` for pods).

Decisions (see docs/operator.md for the long form):

* **Who is called.** :func:`webhook_configuration` builds two webhooks: one for
  pods annotated ``authgate.io/inject: "true"`` (a CEL ``matchCondition``) in
  any namespace but the excluded ones, and one for every pod of a namespace
  labelled ``authgate.io/injection=enabled``.  Pods that did not opt in never
  reach the operator, so an operator outage cannot block them.
* **failurePolicy: Fail.** A pod that asked for authentication must not start
  without it; with ``Ignore`` an operator outage would silently admit
  unprotected pods.  The selectors above keep the blast radius to opted-in pods.
* **Unknown provider, or a spec that does not render** -> the pod is refused
  with a message saying what to fix.  A provider that renders but is not Ready
  (IdP down) -> the pod is admitted *with* the sidecar plus a warning (shown by
  kubectl) and an ``authgate.io/injection-warning`` annotation: the sidecar
  fails closed until the IdP answers, and refusing would turn an IdP blip into
  a deployment outage.
* **Idempotent.** An injected pod carries ``authgate.io/injected``; a second
  call (``reinvocationPolicy: IfNeeded``, or both webhooks matching) is a no-op.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
from typing import Any

import kopf

from authgate.core.contracts import (
    INJECT_ANNOTATION,
    NAMESPACE_INJECTION_LABEL,
    PROVIDER_ANNOTATION,
)

from .browser import add_browser_mounts
from .handler_base import HandlerBase
from .injection import (
    InjectionRefused,
    ProviderRef,
    already_injected,
    inject,
    opted_in,
    provider_reference,
)
from .kube import ApiException
from .render import configmap_name
from .settings import OperatorSettings
from .status import CONFIG_RENDERED, READY, condition

__all__ = ["HANDLER_ID", "WARNING_ANNOTATION", "Injector", "webhook_configuration"]

log = logging.getLogger("authgate.operator.webhook")

HANDLER_ID = "inject"
WARNING_ANNOTATION = "authgate.io/injection-warning"


def webhook_configuration(
    settings: OperatorSettings, client_config: Mapping[str, Any]
) -> dict[str, Any]:
    """The MutatingWebhookConfiguration for ``client_config`` (``url`` or ``service``,
    plus ``caBundle``); the Helm chart renders the same shape."""
    hook = settings.webhook
    not_excluded = {
        "key": "kubernetes.io/metadata.name",
        "operator": "NotIn",
        "values": list(hook.excluded_namespaces),
    }
    scope: list[dict[str, Any]] = [not_excluded]
    if settings.namespaces and not settings.all_namespaces:
        # A namespaced operator injects only where it reconciles providers.
        scope.append(
            {
                "key": "kubernetes.io/metadata.name",
                "operator": "In",
                "values": list(settings.namespaces),
            }
        )
    annotations = "object.metadata.annotations"
    annotated = (
        f"has(object.metadata.annotations) && '{INJECT_ANNOTATION}' in {annotations} && "
        f"{annotations}['{INJECT_ANNOTATION}'] == 'true'"
    )
    not_opted_out = (
        f"!has(object.metadata.annotations) || !('{INJECT_ANNOTATION}' in {annotations}) || "
        f"{annotations}['{INJECT_ANNOTATION}'] != 'false'"
    )
    common: dict[str, Any] = {
        "admissionReviewVersions": ["v1"],
        "sideEffects": "None",
        "failurePolicy": hook.failure_policy,
        "reinvocationPolicy": "IfNeeded",
        "matchPolicy": "Equivalent",
        "timeoutSeconds": hook.timeout_seconds,
        "clientConfig": dict(client_config),
        "rules": [
            {
                "apiGroups": [""],
                "apiVersions": ["v1"],
                "resources": ["pods"],
                "operations": ["CREATE"],
                "scope": "Namespaced",
            }
        ],
    }
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": {
            "name": hook.configuration_name,
            "labels": {"app.kubernetes.io/name": "authgate"},
        },
        "webhooks": [
            {
                "name": "annotated.inject.authgate.io",
                **copy.deepcopy(common),
                "namespaceSelector": {"matchExpressions": copy.deepcopy(scope)},
                "matchConditions": [{"name": "opted-in-by-annotation", "expression": annotated}],
            },
            {
                "name": "namespace.inject.authgate.io",
                **copy.deepcopy(common),
                "namespaceSelector": {
                    "matchExpressions": [
                        {"key": NAMESPACE_INJECTION_LABEL, "operator": "In", "values": ["enabled"]},
                        *copy.deepcopy(scope),
                    ]
                },
                "matchConditions": [{"name": "not-opted-out", "expression": not_opted_out}],
            },
        ],
    }


class Injector(HandlerBase):
    """Decides, per pod, whether and how to inject; the kopf handler calls :meth:`mutate`."""

    def _refuse(self, message: str) -> kopf.AdmissionError:
        self.metrics.admissions.labels("refused").inc()
        log.warning("refused pod: %s", message)
        return kopf.AdmissionError(f"authgate: {message}", code=403)

    async def _resolve(
        self, pod: Mapping[str, Any], namespace: str
    ) -> tuple[str, Mapping[str, Any]]:
        name = provider_reference(pod, namespace)
        if name is None:
            entry, why = self.index.default(namespace)
            if entry is None:
                detail = (
                    "there is none"
                    if why == "none"
                    else "there are several and not exactly one has spec.default: true"
                )
                raise InjectionRefused(
                    f"the pod names no OIDCProvider ({PROVIDER_ANNOTATION}) and namespace "
                    f"{namespace!r} has no default one: {detail}"
                )
            name = entry.name
        try:
            provider = await self.kube.read_provider(namespace, name)
        except ApiException as exc:
            raise InjectionRefused(
                f"cannot read OIDCProvider {namespace}/{name}: HTTP {exc.status}"
            ) from None
        if provider is None:
            raise InjectionRefused(
                f"OIDCProvider {namespace}/{name} (annotation {PROVIDER_ANNOTATION}) does not exist"
            )
        return name, provider

    async def mutate(self, pod: Mapping[str, Any], warnings: list[str]) -> dict[str, Any] | None:
        """The injected pod, or ``None`` to leave the pod alone; raises
        :class:`kopf.AdmissionError` to refuse it."""
        meta = pod.get("metadata") or {}
        namespace = meta.get("namespace")
        sidecar = self.settings.sidecar
        if not namespace or namespace in self.settings.webhook.excluded_namespaces:
            self.metrics.admissions.labels("skipped").inc()
            return None
        try:
            labels = await self.kube.namespace_labels(namespace)
        except ApiException as exc:
            raise self._refuse(f"cannot read namespace {namespace}: HTTP {exc.status}") from None
        if not opted_in(pod, labels) or already_injected(pod, sidecar):
            self.metrics.admissions.labels("skipped").inc()
            return None
        try:
            name, provider = await self._resolve(pod, namespace)
            conditions = (provider.get("status") or {}).get("conditions") or []
            rendered = condition(conditions, CONFIG_RENDERED) or {}
            if rendered.get("status") != "True":
                raise InjectionRefused(
                    f"OIDCProvider {namespace}/{name} has no rendered config yet "
                    f"({rendered.get('reason', 'Pending')}: "
                    f"{rendered.get('message', 'not reconciled')})"
                )
            issuers = (provider.get("spec") or {}).get("issuers") or []
            accepts_sa = any(i.get("kind") == "kubernetes" for i in issuers)
            ref = ProviderRef(namespace, name, configmap_name(name), service_account=accepts_sa)
            out = inject(pod, ref, sidecar)
            add_browser_mounts(out, name, provider.get("spec") or {}, sidecar.container_name)
        except InjectionRefused as exc:
            raise self._refuse(str(exc)) from None
        ready = condition(conditions, READY) or {}
        if ready.get("status") != "True":
            warning = (
                f"OIDCProvider {namespace}/{name} is not Ready "
                f"({ready.get('reason', 'Pending')}); the sidecar rejects requests until "
                "its IdP answers"
            )
            warnings.append(f"authgate: {warning}")
            out["metadata"]["annotations"][WARNING_ANNOTATION] = warning
            self.metrics.admissions.labels("warned").inc()
        self.metrics.admissions.labels("injected").inc()
        log.info("injected sidecar for OIDCProvider %s/%s into a pod", namespace, name)
        return out

    def register(self, registry: kopf.OperatorRegistry) -> None:
        async def handler(
            body: kopf.Body, patch: kopf.Patch, warnings: list[str], **_: Any
        ) -> None:
            pod = copy.deepcopy(dict(body))
            out = await self.mutate(pod, warnings)
            if out is None:
                return

            def replace(target: Any) -> None:
                target.clear()
                target.update(copy.deepcopy(out))

            patch.fns.append(replace)

        kopf.on.mutate(
            "v1",
            "pods",
            registry=registry,
            id=HANDLER_ID,
            operations=["CREATE"],
            side_effects=False,
        )(handler)

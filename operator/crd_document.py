"""One builder for the ``apiextensions.k8s.io/v1`` CustomResourceDefinitions the
operator ships: OIDCProvider, AccessKey and kopf's two peering CRDs.

Each CRD differs only in its names, columns and schema; the envelope (one
served and stored version, the object schema's ``apiVersion``/``kind``/
``metadata`` properties, the ``authgate`` category) is written here once, so
the CRDs cannot drift apart in the parts Kubernetes treats alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: The label every authgate-owned CRD carries (the chart selects kept CRDs by it).
OWNED_LABELS = {"app.kubernetes.io/name": "authgate"}


@dataclass(frozen=True)
class CRDNames:
    """The ``spec.names`` of a CRD."""

    #: The kind, e.g. ``OIDCProvider``; ``singular`` is its lower case.
    kind: str
    #: The plural resource name, e.g. ``oidcproviders``.
    plural: str
    #: ``kubectl get`` short names (authgate's own CRDs).
    short_names: Sequence[str] = ()


@dataclass(frozen=True)
class CRDVersion:
    """The one version a CRD serves and stores."""

    #: The version name, e.g. ``v1alpha1``.
    name: str
    #: The ``openAPIV3Schema``'s properties (``spec``, ``status`` …), next to the
    #: ``apiVersion``/``kind``/``metadata`` ones added for authgate's own CRDs.
    properties: Mapping[str, Any]
    #: The schema's description (authgate CRDs; ``kubectl explain`` shows it).
    description: str = ""
    #: Top-level required properties.
    required: Sequence[str] = ()
    #: ``kubectl get`` columns.
    printer_columns: Sequence[Mapping[str, Any]] = ()
    #: Whether ``status`` is a subresource (writable only through ``/status``).
    status_subresource: bool = False


def crd_document(
    group: str,
    names: CRDNames,
    version: CRDVersion,
    *,
    scope: str = "Namespaced",
    owned: bool = True,
) -> dict[str, Any]:
    """The CustomResourceDefinition of ``names.plural``.``group``.

    An ``owned`` (authgate) CRD is labelled, gets ``listKind``, its short names
    and the ``authgate`` category (``kubectl get authgate``), and describes the
    standard object properties; a foreign one (kopf's peering) is written as its
    owner defines it."""
    spec_names: dict[str, Any] = {"kind": names.kind}
    if owned:
        spec_names["listKind"] = f"{names.kind}List"
    spec_names |= {"plural": names.plural, "singular": names.kind.lower()}
    schema: dict[str, Any] = {"type": "object"}
    if version.description:
        schema["description"] = version.description
    if version.required:
        schema["required"] = list(version.required)
    metadata: dict[str, Any] = {"name": f"{names.plural}.{group}"}
    properties: dict[str, Any] = {}
    if owned:
        metadata["labels"] = dict(OWNED_LABELS)
        spec_names |= {"shortNames": list(names.short_names), "categories": ["authgate"]}
        properties = {"apiVersion": {"type": "string"}, "kind": {"type": "string"}}
        properties["metadata"] = {"type": "object"}
    schema["properties"] = {**properties, **version.properties}
    served: dict[str, Any] = {"name": version.name, "served": True, "storage": True}
    if version.status_subresource:
        served["subresources"] = {"status": {}}
    if version.printer_columns:
        served["additionalPrinterColumns"] = [dict(c) for c in version.printer_columns]
    served["schema"] = {"openAPIV3Schema": schema}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": metadata,
        "spec": {"group": group, "scope": scope, "names": spec_names, "versions": [served]},
    }

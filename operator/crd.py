"""The ``OIDCProvider`` CustomResourceDefinition, generated from the config model.

The CRD schema and the proxy's config model must never drift, so the schema is
not written by hand: :data:`.spec.SPEC_FIELDS` maps each spec field to one
field of :class:`authgate.core.config.ProxyConfig`, and the schema's type,
default, bounds and ``kubectl explain`` description are read from that
dataclass field through :mod:`authgate.core.config.schema` (the same walk and
the same bounds validation uses).

What a structural schema can check, it checks (https issuers with a CEL rule,
bounded lengths, ranges, enums, required fields); everything else is checked by
the same validator the proxy uses, at reconcile time, and reported in ``status``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from authgate.core.config import FieldType, bounds_schema, settings
from authgate.core.contracts import GROUP, PROVIDER_KIND, PROVIDER_PLURAL

from .accesskeys.policy import SPEC_SCHEMA as ACCESS_KEYS_SCHEMA
from .browser import REF_SCHEMAS as BROWSER_REFS
from .crd_document import CRDNames, CRDVersion, crd_document
from .spec import SPEC_FIELDS, SpecField, camel, config_setting

__all__ = [
    "CRD_NAME",
    "VERSION",
    "crd_manifest",
    "peering_crd_manifests",
    "spec_schema",
]

VERSION = "v1alpha1"
CRD_NAME = f"{PROVIDER_PLURAL}.{GROUP}"

#: Descriptions of the intermediate objects of the spec.
_GROUP_DOCS: dict[tuple[str, ...], str] = {
    ("claims",): "Token claims the principal is read from.",
    ("headers",): "Identity headers injected upstream (and always stripped from clients).",
    ("authorization",): "Scopes and groups required per path; public paths.",
    ("tuning",): "Token checks and JWKS caching.",
    ("browser",): "Browser sign-in: authorization code + PKCE and an encrypted cookie session.",
}

#: Spec fields that are about the operator itself, not the rendered config.
_OPERATOR_FIELDS: dict[str, dict[str, Any]] = {
    "default": {
        "type": "boolean",
        "default": False,
        "description": "Serve this provider from the discovery endpoint when the client names "
        "none. Without any default, a lone provider is the default.",
    },
    "caBundle": {
        "type": "string",
        "maxLength": 65536,
        "description": "PEM CA certificates trusted for the IdP's TLS (private IdPs). Used by "
        "the operator for discovery and mounted into the sidecar as ca.crt.",
    },
    "caConfigMap": {
        "type": "object",
        "description": "A ConfigMap in the provider's namespace holding the PEM CA bundle "
        "(alternative to caBundle).",
        "required": ["name"],
        "properties": {
            "name": {
                "type": "string",
                "maxLength": 253,
                "minLength": 1,
                "description": "Name of the ConfigMap.",
            },
            "key": {
                "type": "string",
                "maxLength": 253,
                "default": "ca.crt",
                "description": "Key of the PEM bundle inside the ConfigMap.",
            },
        },
    },
    "accessKeys": ACCESS_KEYS_SCHEMA,
}


def _plain(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


_SIMPLE_MAX_LENGTH = 1024  # any string the spec does not bound more tightly


def _type_schema(ft: FieldType) -> dict[str, Any]:
    """OpenAPI v3 schema of a config field type (without description)."""
    if ft.section is not None:
        return _object_schema(ft.section)
    if ft.item is not None:
        return {"type": "array", "items": _type_schema(ft.item)}
    out: dict[str, Any] = {"type": ft.kind}
    if ft.kind == "string":
        out["maxLength"] = _SIMPLE_MAX_LENGTH
    return out


def _merge(schema: dict[str, Any], extra: Mapping[str, Any]) -> None:
    for key, value in extra.items():
        if key == "items":
            schema["items"] = {**schema.get("items", {}), **value}
        else:
            schema[key] = value


def _object_schema(cls: type) -> dict[str, Any]:
    """Schema of a nested config dataclass (e.g. a path rule), keys in camelCase."""
    props: dict[str, Any] = {}
    fields = settings(cls)
    for name, item in fields.items():
        prop = _type_schema(item.type)
        _merge(prop, bounds_schema(item.bounds, item.type))
        if prop["type"] == "array":
            prop["maxItems"] = 64
            if prop["items"].get("type") == "string":
                prop["items"].setdefault("minLength", 1)
        prop["description"] = item.doc or name
        props[camel(name)] = prop
    schema: dict[str, Any] = {"type": "object", "properties": props}
    if "path_prefix" in fields:  # a path rule is meaningless without its prefix
        schema["required"] = ["pathPrefix"]
        props["pathPrefix"].update({"minLength": 1, "pattern": "^/"})
    return schema


def _leaf_schema(spec_field: SpecField) -> dict[str, Any]:
    item = config_setting(*spec_field.config)
    schema = _type_schema(item.type)
    _merge(schema, spec_field.schema)
    _merge(schema, bounds_schema(item.bounds, item.type))
    schema["description"] = spec_field.description or item.doc or item.name
    default = item.field.default
    if (
        not spec_field.required
        and default is not dataclasses.MISSING
        and default is not None
        and not dataclasses.is_dataclass(default)
        and not (isinstance(default, tuple) and default and dataclasses.is_dataclass(default[0]))
    ):
        schema["default"] = _plain(default)
    return schema


def spec_schema() -> dict[str, Any]:
    """The structural schema of ``.spec``."""
    root: dict[str, Any] = {
        "type": "object",
        "description": "An OpenID Connect identity provider whose tokens authgate accepts.",
        "properties": {},
        "required": [],
    }
    for spec_field in SPEC_FIELDS:
        node = root
        for depth, part in enumerate(spec_field.spec[:-1]):
            group = spec_field.spec[: depth + 1]
            node = node["properties"].setdefault(
                part,
                {"type": "object", "description": _GROUP_DOCS[group], "properties": {}},
            )
        node["properties"][spec_field.spec[-1]] = _leaf_schema(spec_field)
        if spec_field.required:
            node.setdefault("required", []).append(spec_field.spec[-1])
    for name, schema in _OPERATOR_FIELDS.items():
        root["properties"][name] = schema
    root["properties"]["browser"]["properties"].update(BROWSER_REFS)
    for name in ("claims", "headers", "authorization", "tuning", "browser"):
        root["properties"][name]["default"] = {}  # so nested defaults are applied too
    root["x-kubernetes-validations"] = [
        {
            "rule": "!(has(self.caBundle) && has(self.caConfigMap))",
            "message": "set caBundle or caConfigMap, not both",
        }
    ]
    return root


def _condition_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["type", "status"],
        "properties": {
            "type": {
                "type": "string",
                "maxLength": 64,
                "description": "Ready, DiscoveryFetched or ConfigRendered.",
            },
            "status": {
                "type": "string",
                "enum": ["True", "False", "Unknown"],
                "description": "Whether the condition holds.",
            },
            "reason": {
                "type": "string",
                "maxLength": 128,
                "description": "CamelCase machine-readable reason.",
            },
            "message": {
                "type": "string",
                "maxLength": 4096,
                "description": "Human-readable detail.",
            },
            "observedGeneration": {
                "type": "integer",
                "description": "metadata.generation the condition is about.",
            },
            "lastTransitionTime": {
                "type": "string",
                "format": "date-time",
                "description": "When status last changed.",
            },
        },
    }


def _status_schema() -> dict[str, Any]:
    endpoint = {"type": "string", "maxLength": 2048}
    return {
        "type": "object",
        "description": "What the operator observed; written by the operator only.",
        "properties": {
            "observedGeneration": {
                "type": "integer",
                "description": "Last metadata.generation reconciled.",
            },
            "conditions": {
                "type": "array",
                "maxItems": 16,
                "items": _condition_schema(),
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["type"],
                "description": "Ready, DiscoveryFetched, ConfigRendered.",
            },
            "endpoints": {
                "type": "object",
                "description": "Endpoints resolved from discovery and the spec's overrides.",
                "properties": {
                    "issuer": {**endpoint, "description": "Issuer named by discovery."},
                    "jwksUri": {**endpoint, "description": "JWKS URL."},
                    "tokenEndpoint": {**endpoint, "description": "Token endpoint."},
                    "deviceAuthorizationEndpoint": {
                        **endpoint,
                        "description": "Device authorization endpoint (RFC 8628).",
                    },
                    "authorizationEndpoint": {**endpoint, "description": "Authorization endpoint."},
                },
            },
            "signingKeys": {"type": "integer", "description": "Usable signing keys in the JWKS."},
            "configMap": {
                "type": "string",
                "maxLength": 253,
                "description": "Name of the rendered ConfigMap.",
            },
            "configHash": {
                "type": "string",
                "maxLength": 128,
                "description": "sha256 of the rendered ConfigMap data.",
            },
            "lastChecked": {
                "type": "string",
                "format": "date-time",
                "description": "When the IdP was last checked.",
            },
        },
    }


def crd_manifest() -> dict[str, Any]:
    """The ``apiextensions.k8s.io/v1`` CustomResourceDefinition of OIDCProvider."""
    ready = '.status.conditions[?(@.type=="Ready")]'
    columns = [
        {"name": "Issuer", "type": "string", "jsonPath": ".spec.issuer"},
        {"name": "Ready", "type": "string", "jsonPath": f"{ready}.status"},
        {"name": "Reason", "type": "string", "jsonPath": f"{ready}.reason"},
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    ]
    version = CRDVersion(
        VERSION,
        {"spec": spec_schema(), "status": _status_schema()},
        description="OIDCProvider: an OpenID Connect identity provider "
        "rendered into authgate proxy config.",
        required=["spec"],
        printer_columns=columns,
        status_subresource=True,
    )
    return crd_document(GROUP, CRDNames(PROVIDER_KIND, PROVIDER_PLURAL, ["oidcp"]), version)


def peering_crd_manifests() -> list[dict[str, Any]]:
    """kopf's peering CRDs (``KopfPeering`` namespaced, ``ClusterKopfPeering``), which let
    several operator replicas agree on one active reconciler."""
    status = {"status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}
    return [
        crd_document(
            "kopf.dev", CRDNames(kind, plural), CRDVersion("v1", status), scope=scope, owned=False
        )
        for scope, kind, plural in (
            ("Namespaced", "KopfPeering", "kopfpeerings"),
            ("Cluster", "ClusterKopfPeering", "clusterkopfpeerings"),
        )
    ]

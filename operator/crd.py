"""The ``OIDCProvider`` CustomResourceDefinition, generated from the config model.

The CRD schema and the proxy's config model must never drift, so the schema is
not written by hand: :data:`SPEC_FIELDS` maps each spec field (camelCase, as
Kubernetes users expect) to one field of :class:`authgate.core.config.ProxyConfig`,
and the schema's type, default and ``kubectl explain`` description are read
from that dataclass field.  :mod:`authgate.operator.render` walks the very same
table in the other direction.  The test suite checks that every config field is
either in the table or deliberately owned by the deployment
(:data:`DEPLOYMENT_OWNED`), so a field added to the core shows up as a failing
test rather than a silently missing knob.

What a structural schema can check, it checks (https issuers with a CEL rule,
bounded lengths, enums, required fields); everything else is checked by the
same validator the proxy uses, at reconcile time, and reported in ``status``.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from authgate.core import config as cfg
from authgate.core.contracts import GROUP, PROVIDER_KIND, PROVIDER_PLURAL
from authgate.core.validation import field_types

from .accesskeys.policy import SPEC_SCHEMA as ACCESS_KEYS_SCHEMA

__all__ = [
    "CRD_NAME",
    "DEPLOYMENT_OWNED",
    "SPEC_FIELDS",
    "VERSION",
    "SpecField",
    "camel",
    "crd_manifest",
    "peering_crd_manifests",
    "spec_schema",
]

VERSION = "v1alpha1"
CRD_NAME = f"{PROVIDER_PLURAL}.{GROUP}"
SINGULAR = PROVIDER_KIND.lower()

#: A URL the proxy may fetch from: https, or http on a loopback host (tests, local IdPs).
_URL_RULE = {
    "rule": (
        "self.startsWith('https://') || "
        "self.matches('^http://(localhost|127[.][0-9]+[.][0-9]+[.][0-9]+|\\\\[::1\\\\])(:[0-9]+)?(/.*)?$')"
    ),
    "message": "must be an https URL (http is allowed only for localhost, 127.0.0.0/8 and [::1])",
}
_URL = {"maxLength": 2048, "x-kubernetes-validations": [_URL_RULE]}
_SCOPE_LIST = {"maxItems": 32, "items": {"type": "string", "maxLength": 256, "minLength": 1}}
_NAME = {"maxLength": 256, "minLength": 1}
_HEADER = {"maxLength": 128, "minLength": 1, "pattern": "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$"}


@dataclass(frozen=True, slots=True)
class SpecField:
    """One ``spec`` field and the config field it renders into."""

    spec: tuple[str, ...]  # path under .spec, camelCase
    config: tuple[str, str]  # (section, field) in ProxyConfig, or ("", field) for top-level
    schema: Mapping[str, Any] = field(default_factory=dict)  # bounds, enums, rules
    required: bool = False
    description: str | None = None  # replaces the config field's doc when set


#: Every spec field that becomes part of the rendered proxy config.
SPEC_FIELDS: tuple[SpecField, ...] = (
    SpecField(("issuer",), ("oidc", "issuer"), _URL, required=True,
              description="Issuer URL of the IdP; must equal the tokens' `iss` exactly. "
                          "https (http only for loopback hosts)."),
    SpecField(("additionalIssuers",), ("oidc", "additional_issuers"),
              {"maxItems": 8, "items": {"type": "string", **_URL}}),
    SpecField(("clientId",), ("oidc", "client_id"), _NAME, required=True),
    SpecField(("audience",), ("oidc", "audience"),
              {"maxItems": 16, "items": {"type": "string", "maxLength": 512, "minLength": 1}}),
    SpecField(("defaultScopes",), ("oidc", "default_scopes"), {"maxLength": 2048}),
    SpecField(("scopePrefix",), ("oidc", "scope_prefix"), {"maxLength": 256}),
    SpecField(("tokenEndpoint",), ("oidc", "token_endpoint"), _URL),
    SpecField(("deviceAuthorizationEndpoint",), ("oidc", "device_authorization_endpoint"), _URL),
    SpecField(("authorizationEndpoint",), ("oidc", "authorization_endpoint"), _URL),
    SpecField(("jwksUri",), ("oidc", "jwks_uri"), _URL),
    SpecField(("authEnabled",), ("", "auth_enabled")),
    SpecField(("claims", "subject"), ("tokens", "subject_claim"), _NAME),
    SpecField(("claims", "email"), ("tokens", "email_claim"), _NAME),
    SpecField(("claims", "groups"), ("tokens", "groups_claim"), _NAME),
    SpecField(("headers", "preset"), ("headers", "preset"), {"enum": sorted(cfg.HEADER_PRESETS)}),
    SpecField(("headers", "principalId"), ("headers", "principal_id"), _HEADER),
    SpecField(("headers", "email"), ("headers", "email"), _HEADER),
    SpecField(("headers", "groups"), ("headers", "groups"), _HEADER),
    SpecField(("headers", "scopes"), ("headers", "scopes"), _HEADER),
    SpecField(("headers", "podName"), ("headers", "pod_name"), _HEADER),
    SpecField(("headers", "podUid"), ("headers", "pod_uid"), _HEADER),
    SpecField(("headers", "strip"), ("headers", "strip"),
              {"maxItems": 32, "items": {"type": "string", **_HEADER}}),
    SpecField(("headers", "forwardAuthorization"), ("headers", "forward_authorization")),
    SpecField(("headers", "setForwarded"), ("headers", "set_forwarded")),
    SpecField(("authorization", "publicPaths"), ("authorization", "public_paths"),
              {"maxItems": 64, "items": {"type": "string", "maxLength": 1024, "pattern": "^/"}}),
    SpecField(("authorization", "readScopes"), ("authorization", "read_scopes"), _SCOPE_LIST),
    SpecField(("authorization", "writeScopes"), ("authorization", "write_scopes"), _SCOPE_LIST),
    SpecField(("authorization", "rules"), ("authorization", "rules"), {"maxItems": 128}),
    SpecField(("issuers",), ("", "issuers"), {"maxItems": 16},
              description="More issuers accepted next to the IdP, each with its own keys, "
                          "audience and claim mapping. `kind: kubernetes` accepts the "
                          "cluster's projected service-account tokens for the service "
                          "accounts listed in `kubernetes.allowedServiceAccounts`."),
    SpecField(("tuning", "algorithms"), ("tokens", "algorithms"),
              {"maxItems": len(cfg.ASYMMETRIC_ALGORITHMS), "minItems": 1,
               "items": {"type": "string", "enum": list(cfg.ASYMMETRIC_ALGORITHMS)}}),
    SpecField(("tuning", "leewaySeconds"), ("tokens", "leeway_seconds"),
              {"minimum": 0, "maximum": 600}),
    SpecField(("tuning", "maxTokenBytes"), ("tokens", "max_token_bytes"),
              {"minimum": 512, "maximum": 1 << 20}),
    SpecField(("tuning", "tokenCacheSize"), ("tokens", "cache_size"),
              {"minimum": 0, "maximum": 1_000_000}),
    SpecField(("tuning", "keyRefreshIntervalSeconds"), ("keys", "refresh_interval_seconds"),
              {"minimum": 1, "maximum": 86400}),
    SpecField(("tuning", "keyRefreshJitter"), ("keys", "refresh_jitter"),
              {"minimum": 0, "maximum": 0.99}),
    SpecField(("tuning", "unknownKidCooldownSeconds"), ("keys", "unknown_kid_cooldown_seconds"),
              {"minimum": 0, "maximum": 3600}),
    SpecField(("tuning", "keyStaleMaxAgeSeconds"), ("keys", "stale_max_age_seconds"),
              {"minimum": 0, "maximum": 604800}),
    SpecField(("tuning", "fetchTimeoutSeconds"), ("keys", "fetch_timeout_seconds"),
              {"minimum": 0.1, "maximum": 60}),
)  # fmt: skip

#: Config fields the OIDCProvider does not set: they belong to the pod the sidecar
#: runs in (listeners, upstream, limits) or are derived (``keys.ca_file`` from the CA bundle).
DEPLOYMENT_OWNED: frozenset[tuple[str, str]] = frozenset(
    {(section, f.name) for section in ("server", "listen", "admin", "upstream", "limits",
                                       "quickstart")
     for f in dataclasses.fields(field_types(cfg.ProxyConfig)[section])}
    | {("keys", "ca_file")}
)  # fmt: skip

#: Descriptions of the intermediate objects of the spec.
_GROUP_DOCS: dict[tuple[str, ...], str] = {
    ("claims",): "Token claims the principal is read from.",
    ("headers",): "Identity headers injected upstream (and always stripped from clients).",
    ("authorization",): "Scopes and groups required per path; public paths.",
    ("tuning",): "Token checks and JWKS caching.",
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
            "name": {"type": "string", "maxLength": 253, "minLength": 1,
                     "description": "Name of the ConfigMap."},
            "key": {"type": "string", "maxLength": 253, "default": "ca.crt",
                    "description": "Key of the PEM bundle inside the ConfigMap."},
        },
    },
    "accessKeys": ACCESS_KEYS_SCHEMA,
}  # fmt: skip


def camel(name: str) -> str:
    """``device_authorization_endpoint`` -> ``deviceAuthorizationEndpoint``."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _config_field(section: str, name: str) -> tuple[Any, dataclasses.Field[Any]]:
    owner: Any = cfg.ProxyConfig if not section else field_types(cfg.ProxyConfig)[section]
    fields = {f.name: f for f in dataclasses.fields(owner)}
    return field_types(owner)[name], fields[name]


def _plain(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def _type_schema(tp: Any) -> dict[str, Any]:
    """OpenAPI v3 schema of a config annotation (without description)."""
    origin = typing.get_origin(tp)
    if origin in (types.UnionType, typing.Union):
        (inner,) = [a for a in typing.get_args(tp) if a is not type(None)]
        return _type_schema(inner)
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return _object_schema(tp)
    if origin is tuple:
        return {"type": "array", "items": _type_schema(typing.get_args(tp)[0])}
    simple = {bool: "boolean", int: "integer", float: "number", str: "string"}
    if tp in simple:
        out: dict[str, Any] = {"type": simple[tp]}
        if tp is str:
            out["maxLength"] = 1024
        return out
    raise TypeError(f"no CRD schema for config annotation {tp!r}")


def _object_schema(cls: type) -> dict[str, Any]:
    """Schema of a nested config dataclass (e.g. a path rule), keys in camelCase."""
    props: dict[str, Any] = {}
    hints = field_types(cls)
    for f in dataclasses.fields(cls):
        prop = _type_schema(hints[f.name])
        if prop["type"] == "array":
            prop["maxItems"] = 64
            if prop["items"].get("type") == "string":
                prop["items"].setdefault("minLength", 1)
        prop["description"] = f.metadata.get("doc", f.name)
        props[camel(f.name)] = prop
    schema: dict[str, Any] = {"type": "object", "properties": props}
    if "path_prefix" in hints:  # a path rule is meaningless without its prefix
        schema["required"] = ["pathPrefix"]
        props["pathPrefix"].update({"minLength": 1, "pattern": "^/"})
    return schema


def _leaf_schema(spec_field: SpecField) -> dict[str, Any]:
    tp, fld = _config_field(*spec_field.config)
    schema = _type_schema(tp)
    for key, value in spec_field.schema.items():
        if key == "items":
            schema["items"] = {**schema.get("items", {}), **value}
        else:
            schema[key] = value
    schema["description"] = spec_field.description or fld.metadata.get("doc", fld.name)
    default = fld.default
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
    for name in ("claims", "headers", "authorization", "tuning"):
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
            "type": {"type": "string", "maxLength": 64,
                     "description": "Ready, DiscoveryFetched or ConfigRendered."},
            "status": {"type": "string", "enum": ["True", "False", "Unknown"],
                       "description": "Whether the condition holds."},
            "reason": {"type": "string", "maxLength": 128,
                       "description": "CamelCase machine-readable reason."},
            "message": {"type": "string", "maxLength": 4096,
                        "description": "Human-readable detail."},
            "observedGeneration": {"type": "integer",
                                   "description": "metadata.generation the condition is about."},
            "lastTransitionTime": {"type": "string", "format": "date-time",
                                   "description": "When status last changed."},
        },
    }  # fmt: skip


def _status_schema() -> dict[str, Any]:
    endpoint = {"type": "string", "maxLength": 2048}
    return {
        "type": "object",
        "description": "What the operator observed; written by the operator only.",
        "properties": {
            "observedGeneration": {"type": "integer",
                                   "description": "Last metadata.generation reconciled."},
            "conditions": {"type": "array", "maxItems": 16, "items": _condition_schema(),
                           "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"],
                           "description": "Ready, DiscoveryFetched, ConfigRendered."},
            "endpoints": {
                "type": "object",
                "description": "Endpoints resolved from discovery and the spec's overrides.",
                "properties": {
                    "issuer": {**endpoint, "description": "Issuer named by discovery."},
                    "jwksUri": {**endpoint, "description": "JWKS URL."},
                    "tokenEndpoint": {**endpoint, "description": "Token endpoint."},
                    "deviceAuthorizationEndpoint": {
                        **endpoint, "description": "Device authorization endpoint (RFC 8628)."},
                    "authorizationEndpoint": {**endpoint,
                                              "description": "Authorization endpoint."},
                },
            },
            "signingKeys": {"type": "integer", "description": "Usable signing keys in the JWKS."},
            "configMap": {"type": "string", "maxLength": 253,
                          "description": "Name of the rendered ConfigMap."},
            "configHash": {"type": "string", "maxLength": 128,
                           "description": "sha256 of the rendered ConfigMap data."},
            "lastChecked": {"type": "string", "format": "date-time",
                            "description": "When the IdP was last checked."},
        },
    }  # fmt: skip


def crd_manifest() -> dict[str, Any]:
    """The ``apiextensions.k8s.io/v1`` CustomResourceDefinition of OIDCProvider."""
    ready = '.status.conditions[?(@.type=="Ready")]'
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": CRD_NAME, "labels": {"app.kubernetes.io/name": "authgate"}},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": PROVIDER_KIND,
                "listKind": f"{PROVIDER_KIND}List",
                "plural": PROVIDER_PLURAL,
                "singular": SINGULAR,
                "shortNames": ["oidcp"],
                "categories": ["authgate"],
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [
                        {"name": "Issuer", "type": "string", "jsonPath": ".spec.issuer"},
                        {"name": "Ready", "type": "string", "jsonPath": f"{ready}.status"},
                        {"name": "Reason", "type": "string", "jsonPath": f"{ready}.reason"},
                        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
                    ],
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "description": "OIDCProvider: an OpenID Connect identity provider "
                                           "rendered into authgate proxy config.",
                            "required": ["spec"],
                            "properties": {
                                "apiVersion": {"type": "string"},
                                "kind": {"type": "string"},
                                "metadata": {"type": "object"},
                                "spec": spec_schema(),
                                "status": _status_schema(),
                            },
                        }
                    },
                }
            ],
        },
    }  # fmt: skip


def peering_crd_manifests() -> list[dict[str, Any]]:
    """kopf's peering CRDs (``KopfPeering`` namespaced, ``ClusterKopfPeering``), which let
    several operator replicas agree on one active reconciler."""
    out = []
    for scope, kind, plural in (
        ("Namespaced", "KopfPeering", "kopfpeerings"),
        ("Cluster", "ClusterKopfPeering", "clusterkopfpeerings"),
    ):
        out.append({
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{plural}.kopf.dev"},
            "spec": {
                "scope": scope,
                "group": "kopf.dev",
                "names": {"kind": kind, "plural": plural, "singular": kind.lower()},
                "versions": [{
                    "name": "v1", "served": True, "storage": True,
                    "schema": {"openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "status": {"type": "object",
                                       "x-kubernetes-preserve-unknown-fields": True},
                        },
                    }},
                }],
            },
        })  # fmt: skip
    return out

"""The proxy configuration: one versioned document, frozen dataclasses.

The document (``apiVersion: authgate.io/v1alpha1``, ``kind: ProxyConfig``) is
written by people, by the operator (into a ConfigMap) and by the tests; the
proxy, the lean data path and the operator all read it through
:func:`parse_config`, so there is exactly one schema.  The package is layered,
each module importing only the ones above it:

* :mod:`.schema` — the walk over type hints, :class:`Bounds`, the error list;
* :mod:`.model` — the dataclasses alone (fields, docs, bounds), with the
  identity-provider sections in :mod:`.idp_model` and the issuer entries in
  :mod:`.issuer_model`;
* :mod:`.env` — ``AUTHGATE__…`` environment overrides;
* :mod:`.validation` — shape and meaning checks (issuer entries: :mod:`.issuer_checks`);
* :mod:`.loader` — ``parse_config`` / ``load_config`` / ``config_to_document``.

Import from here (``from authgate.core.config import ProxyConfig``); the
submodules are an implementation detail and never import this ``__init__``.
"""

from __future__ import annotations

from .checks import is_loopback_host
from .env import ENV_PREFIX, apply_env_overrides
from .issuer_model import (
    IN_CLUSTER_CA_FILE,
    IN_CLUSTER_TOKEN_FILE,
    ISSUER_KINDS,
    TEMPLATE_FIELDS,
    AccessKeyIssuer,
    IssuerClaims,
    IssuerEntry,
    KubernetesIssuer,
    ServiceAccountGrant,
    template_fields,
)
from .loader import config_to_document, load_config, parse_config
from .model import (
    ASYMMETRIC_ALGORITHMS,
    ATTRIBUTE_SLOTS,
    HEADER_PRESETS,
    IDENTITY_SLOTS,
    OIDC_SCOPES,
    AdminConfig,
    AuthorizationConfig,
    BrowserConfig,
    GatewayConfig,
    HeaderConfig,
    KeyConfig,
    LimitsConfig,
    ListenConfig,
    OIDCConfig,
    PathRule,
    ProxyConfig,
    QuickstartConfig,
    ServerConfig,
    TokenConfig,
    UpstreamConfig,
)
from .schema import (
    HEADER_NAME_PATTERN,
    Bounds,
    ErrorList,
    FieldType,
    Setting,
    bounds_schema,
    did_you_mean,
    field_type,
    field_types,
    settings,
)
from .validation import to_document, validate_document

__all__ = [
    "ASYMMETRIC_ALGORITHMS",
    "ATTRIBUTE_SLOTS",
    "ENV_PREFIX",
    "HEADER_NAME_PATTERN",
    "HEADER_PRESETS",
    "IDENTITY_SLOTS",
    "IN_CLUSTER_CA_FILE",
    "IN_CLUSTER_TOKEN_FILE",
    "ISSUER_KINDS",
    "OIDC_SCOPES",
    "TEMPLATE_FIELDS",
    "AccessKeyIssuer",
    "AdminConfig",
    "AuthorizationConfig",
    "Bounds",
    "BrowserConfig",
    "ErrorList",
    "FieldType",
    "GatewayConfig",
    "HeaderConfig",
    "IssuerClaims",
    "IssuerEntry",
    "KeyConfig",
    "KubernetesIssuer",
    "LimitsConfig",
    "ListenConfig",
    "OIDCConfig",
    "PathRule",
    "ProxyConfig",
    "QuickstartConfig",
    "ServerConfig",
    "ServiceAccountGrant",
    "Setting",
    "TokenConfig",
    "UpstreamConfig",
    "apply_env_overrides",
    "bounds_schema",
    "config_to_document",
    "did_you_mean",
    "field_type",
    "field_types",
    "is_loopback_host",
    "load_config",
    "parse_config",
    "settings",
    "template_fields",
    "to_document",
    "validate_document",
]

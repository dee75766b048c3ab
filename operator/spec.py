"""The ``OIDCProvider`` spec: which spec field renders into which config field.

:data:`SPEC_FIELDS` maps each spec field (camelCase, as Kubernetes users
expect) to one field of :class:`authgate.core.config.ProxyConfig`.  Two modules
walk it: :mod:`.crd` generates the CRD schema from it (types, defaults,
descriptions and bounds read from the config field), and :mod:`.render` turns
a spec into a config document with it.  The test suite checks that every config
field is either in the table or deliberately owned by the deployment
(:data:`DEPLOYMENT_OWNED`), so a field added to the core shows up as a failing
test rather than a silently missing knob.

The ``schema`` of a row holds only what is about Kubernetes: lengths and item
counts (the API server's CEL cost budget needs them) and CEL rules.  Ranges,
enums and the header-name pattern are declared once, on the config field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from authgate.core import config as cfg
from authgate.core.config import settings

__all__ = ["DEPLOYMENT_OWNED", "SPEC_FIELDS", "SpecField", "camel", "config_setting"]


def _section(name: str) -> type:
    section = settings(cfg.ProxyConfig)[name].type.section
    assert section is not None
    return section


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
#: Header names: the syntax is the config field's bound (RFC 9110 token); the CRD adds the length.
_HEADER = {"maxLength": 128, "minLength": 1}


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
    SpecField(
        ("issuer",),
        ("oidc", "issuer"),
        _URL,
        required=True,
        description="Issuer URL of the IdP; must equal the tokens' `iss` exactly. "
        "https (http only for loopback hosts).",
    ),
    SpecField(
        ("additionalIssuers",),
        ("oidc", "additional_issuers"),
        {"maxItems": 8, "items": {"type": "string", **_URL}},
    ),
    SpecField(("clientId",), ("oidc", "client_id"), _NAME, required=True),
    SpecField(
        ("audience",),
        ("oidc", "audience"),
        {"maxItems": 16, "items": {"type": "string", "maxLength": 512, "minLength": 1}},
    ),
    SpecField(("defaultScopes",), ("oidc", "default_scopes"), {"maxLength": 2048}),
    SpecField(("scopePrefix",), ("oidc", "scope_prefix"), {"maxLength": 256}),
    SpecField(("tokenEndpoint",), ("oidc", "token_endpoint"), _URL),
    SpecField(("deviceAuthorizationEndpoint",), ("oidc", "device_authorization_endpoint"), _URL),
    SpecField(("authorizationEndpoint",), ("oidc", "authorization_endpoint"), _URL),
    SpecField(("jwksUri",), ("oidc", "jwks_uri"), _URL),
    SpecField(("requestResource",), ("oidc", "request_resource"), {"maxLength": 2048}),
    SpecField(("requestAudience",), ("oidc", "request_audience"), {"maxLength": 512}),
    SpecField(("authEnabled",), ("", "auth_enabled")),
    SpecField(("claims", "subject"), ("tokens", "subject_claim"), _NAME),
    SpecField(("claims", "email"), ("tokens", "email_claim"), _NAME),
    SpecField(("claims", "groups"), ("tokens", "groups_claim"), _NAME),
    SpecField(("headers", "preset"), ("headers", "preset")),
    SpecField(("headers", "principalId"), ("headers", "principal_id"), _HEADER),
    SpecField(("headers", "email"), ("headers", "email"), _HEADER),
    SpecField(("headers", "groups"), ("headers", "groups"), _HEADER),
    SpecField(("headers", "scopes"), ("headers", "scopes"), _HEADER),
    SpecField(("headers", "podName"), ("headers", "pod_name"), _HEADER),
    SpecField(("headers", "podUid"), ("headers", "pod_uid"), _HEADER),
    SpecField(
        ("headers", "strip"),
        ("headers", "strip"),
        {"maxItems": 32, "items": {"type": "string", **_HEADER}},
    ),
    SpecField(("headers", "forwardAuthorization"), ("headers", "forward_authorization")),
    SpecField(("headers", "setForwarded"), ("headers", "set_forwarded")),
    SpecField(
        ("authorization", "publicPaths"),
        ("authorization", "public_paths"),
        {"maxItems": 64, "items": {"type": "string", "maxLength": 1024, "pattern": "^/"}},
    ),
    SpecField(("authorization", "readScopes"), ("authorization", "read_scopes"), _SCOPE_LIST),
    SpecField(("authorization", "writeScopes"), ("authorization", "write_scopes"), _SCOPE_LIST),
    SpecField(("authorization", "rules"), ("authorization", "rules"), {"maxItems": 128}),
    SpecField(("authorization", "scopelessTokens"), ("authorization", "scopeless_tokens")),
    SpecField(
        ("issuers",),
        ("", "issuers"),
        {"maxItems": 16},
        description="More issuers accepted next to the IdP, each with its own keys, "
        "audience and claim mapping. `kind: kubernetes` accepts the "
        "cluster's projected service-account tokens for the service "
        "accounts listed in `kubernetes.allowedServiceAccounts`.",
    ),
    SpecField(
        ("tuning", "algorithms"),
        ("tokens", "algorithms"),
        {
            "maxItems": len(cfg.ASYMMETRIC_ALGORITHMS),
            "minItems": 1,
            "items": {"type": "string", "enum": list(cfg.ASYMMETRIC_ALGORITHMS)},
        },
    ),
    # Ranges, enums and patterns are the config fields' own bounds (core.config.schema).
    SpecField(("tuning", "leewaySeconds"), ("tokens", "leeway_seconds")),
    SpecField(("tuning", "maxTokenBytes"), ("tokens", "max_token_bytes")),
    SpecField(("tuning", "tokenCacheSize"), ("tokens", "cache_size")),
    SpecField(("tuning", "tokenCacheMaxBytes"), ("tokens", "cache_max_bytes")),
    SpecField(("tuning", "keyRefreshIntervalSeconds"), ("keys", "refresh_interval_seconds")),
    SpecField(("tuning", "keyRefreshJitter"), ("keys", "refresh_jitter")),
    SpecField(("tuning", "unknownKidCooldownSeconds"), ("keys", "unknown_kid_cooldown_seconds")),
    SpecField(("tuning", "keyStaleMaxAgeSeconds"), ("keys", "stale_max_age_seconds")),
    SpecField(("tuning", "fetchTimeoutSeconds"), ("keys", "fetch_timeout_seconds")),
    # Browser sign-in; the Secret references are in operator.browser.REF_SCHEMAS.
    SpecField(("browser", "enabled"), ("browser", "enabled")),
    SpecField(("browser", "clientId"), ("browser", "client_id"), {"maxLength": 256}),
    SpecField(("browser", "scopes"), ("browser", "scopes"), {"maxLength": 2048}),
    SpecField(("browser", "redirectUrl"), ("browser", "redirect_url"), _URL),
    SpecField(("browser", "cookieDomain"), ("browser", "cookie_domain"), {"maxLength": 253}),
    SpecField(("browser", "sessionLifetimeSeconds"), ("browser", "session_lifetime_seconds")),
    SpecField(("browser", "refreshBeforeSeconds"), ("browser", "refresh_before_seconds")),
    SpecField(("browser", "loginTimeoutSeconds"), ("browser", "login_timeout_seconds")),
    SpecField(
        ("browser", "neverRedirect"),
        ("browser", "never_redirect"),
        {"maxItems": 64, "items": {"type": "string", "maxLength": 1024, "pattern": "^/"}},
    ),
    SpecField(
        ("browser", "trustedOrigins"),
        ("browser", "trusted_origins"),
        {"maxItems": 32, "items": {"type": "string", "maxLength": 512}},
    ),
    SpecField(
        ("browser", "postLogoutRedirectUrl"),
        ("browser", "post_logout_redirect_url"),
        {"maxLength": 2048},
    ),
)

#: Config fields the OIDCProvider does not set: they belong to the pod the sidecar
#: runs in (listeners, upstream, limits) or are derived (``keys.ca_file`` from the CA bundle).
DEPLOYMENT_OWNED: frozenset[tuple[str, str]] = frozenset(
    {
        (section, name)
        for section in ("server", "listen", "admin", "upstream", "limits", "quickstart", "gateway")
        for name in settings(_section(section))
    }
    | {("keys", "ca_file")}
    # Derived from spec.browser's Secret references (operator.browser), or dev-only.
    | {
        ("browser", "session_keys_dir"),
        ("browser", "client_secret_file"),
        ("browser", "insecure_http_loopback"),
    }
)


def camel(name: str) -> str:
    """``device_authorization_endpoint`` -> ``deviceAuthorizationEndpoint``."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def config_setting(section: str, name: str) -> cfg.Setting:
    """The config field a spec field renders into (``section`` "" for top-level)."""
    owner = cfg.ProxyConfig if not section else _section(section)
    return settings(owner)[name]

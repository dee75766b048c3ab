"""The proxy configuration model: one versioned document, frozen dataclasses.

The document (``apiVersion: authgate.io/v1alpha1``, ``kind: ProxyConfig``) is
written by people, by the operator (into a ConfigMap) and by the tests; the
proxy, the lean data path and the operator all read it through
:func:`parse_config`, so there is exactly one schema.  Every dataclass field
name is the YAML key, and every field carries its documentation in
``metadata["doc"]`` so the reference (``docs/config.md``) and the operator's CRD
schema can be derived from — or checked against — this module.

Parsing is schema-driven (see :mod:`authgate.core.validation`): it walks these
dataclasses, collects *every* error with its path, and raises a single
:class:`~authgate.core.errors.ConfigError`.  Environment variables named after
a field's path (``AUTHGATE__OIDC__ISSUER``) override single fields
(:mod:`authgate.core.config_env`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from .errors import ConfigError

__all__ = [
    "ATTRIBUTE_SLOTS",
    "HEADER_PRESETS",
    "IDENTITY_SLOTS",
    "ISSUER_KINDS",
    "AccessKeyIssuer",
    "AdminConfig",
    "AuthorizationConfig",
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
    "TokenConfig",
    "UpstreamConfig",
    "config_to_document",
    "load_config",
    "parse_config",
]


def _doc(default: Any, doc: str) -> Any:
    """A dataclass field with a default and its documentation."""
    return field(default=default, metadata={"doc": doc})


#: Identity-header name sets.  ``nemo`` matches the NeMo Platform contract,
#: ``authgate`` the oauth2-proxy style ``X-Auth-Request-*`` names.
HEADER_PRESETS: Mapping[str, Mapping[str, str]] = {
    "nemo": {
        "principal_id": "X-NMP-Principal-Id",
        "email": "X-NMP-Principal-Email",
        "groups": "X-NMP-Principal-Groups",
        "scopes": "X-NMP-Scopes",
        "pod_name": "X-NMP-Principal-Pod",
        "pod_uid": "X-NMP-Principal-Pod-Uid",
    },
    "authgate": {
        "principal_id": "X-Auth-Request-User",
        "email": "X-Auth-Request-Email",
        "groups": "X-Auth-Request-Groups",
        "scopes": "X-Auth-Request-Scopes",
        "pod_name": "X-Auth-Request-Pod",
        "pod_uid": "X-Auth-Request-Pod-Uid",
    },
}

#: Slots filled from ``Principal.attributes`` (verified extras, e.g. the calling pod).
ATTRIBUTE_SLOTS: tuple[str, ...] = ("pod_name", "pod_uid")
#: The identity-header slots, in injection order (keys of every preset).
IDENTITY_SLOTS: tuple[str, ...] = ("principal_id", "email", "groups", "scopes", *ATTRIBUTE_SLOTS)

#: Signature algorithms the verifier can use with public keys (RFC 7518 §3.1, RFC 8037).
ASYMMETRIC_ALGORITHMS: tuple[str, ...] = (
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA",
)  # fmt: skip

#: Scopes every OIDC token may carry; a token with only these skips the scope check.
OIDC_SCOPES: frozenset[str] = frozenset({"openid", "profile", "email", "offline_access"})


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """Which HTTP data path serves client traffic."""

    engine: str = _doc("auto", "auto | aiohttp | lean; auto picks lean when available")
    workers: int = _doc(1, "processes sharing the listen port with SO_REUSEPORT (>= 1)")


@dataclass(frozen=True, slots=True)
class ListenConfig:
    """Where the proxy listens for client traffic."""

    host: str = _doc("127.0.0.1", "bind address; 0.0.0.0 in a pod")
    port: int = _doc(8080, "TCP port (0 picks a free port)")


@dataclass(frozen=True, slots=True)
class AdminConfig:
    """Health (/healthz), readiness (/readyz) and Prometheus metrics (/metrics)."""

    host: str = _doc("127.0.0.1", "bind address of the admin listener")
    port: int = _doc(9090, "TCP port of the admin listener (0 picks a free port)")


@dataclass(frozen=True, slots=True)
class UpstreamConfig:
    """The service behind the sidecar; traffic is streamed to it unchanged."""

    url: str = _doc("http://127.0.0.1:8000", "http(s) base URL of the protected service")
    connect_timeout_seconds: float = _doc(5.0, "connect timeout; refused/unreachable -> 502")
    read_timeout_seconds: float = _doc(60.0, "no response within this -> 504")
    max_connections: int = _doc(256, "keep-alive pool size")


@dataclass(frozen=True, slots=True)
class OIDCConfig:
    """The identity provider whose tokens are accepted."""

    issuer: str = _doc("", "issuer URL; must equal the token's `iss` exactly")
    additional_issuers: tuple[str, ...] = _doc((), "more accepted `iss` values, each discovered")
    client_id: str = _doc("", "public client the CLI uses; published in discovery")
    audience: tuple[str, ...] = _doc((), "accepted `aud` values; empty means [client_id]")
    jwks_uri: str | None = _doc(None, "JWKS URL override; otherwise from OIDC discovery")
    token_endpoint: str | None = _doc(None, "override for the discovery document")
    device_authorization_endpoint: str | None = _doc(None, "override for the discovery document")
    authorization_endpoint: str | None = _doc(None, "override for the discovery document")
    default_scopes: str = _doc(
        "platform:read platform:write openid profile email offline_access",
        "space-separated scopes the CLI requests by default; published in discovery",
    )
    scope_prefix: str = _doc("", "prefix stripped from token scopes, e.g. api://nmp/ (Entra ID)")

    @property
    def effective_audience(self) -> tuple[str, ...]:
        """The accepted ``aud`` values: ``audience``, or ``(client_id,)`` when empty."""
        if self.audience:
            return self.audience
        return (self.client_id,) if self.client_id else ()

    @property
    def issuers(self) -> tuple[str, ...]:
        """Every accepted issuer, the primary first, without duplicates."""
        seen: dict[str, None] = {}
        for iss in (self.issuer, *self.additional_issuers):
            if iss:
                seen.setdefault(iss, None)
        return tuple(seen)


@dataclass(frozen=True, slots=True)
class TokenConfig:
    """How bearer tokens are checked."""

    algorithms: tuple[str, ...] = _doc(ASYMMETRIC_ALGORITHMS, "allowed `alg` values; asymmetric")
    leeway_seconds: float = _doc(60.0, "clock skew allowed on exp / nbf / iat")
    max_token_bytes: int = _doc(16384, "longer bearer tokens are rejected before parsing")
    subject_claim: str = _doc("sub", "claim holding the principal id")
    email_claim: str = _doc("email", "claim holding the email address")
    groups_claim: str = _doc("groups", "claim holding the group list")
    cache_size: int = _doc(10000, "verified-token cache entries (each also bounded by its exp)")


@dataclass(frozen=True, slots=True)
class KeyConfig:
    """How the JWKS is fetched and cached."""

    refresh_interval_seconds: float = _doc(300.0, "background JWKS refresh period")
    refresh_jitter: float = _doc(0.1, "random fraction of the interval added or removed (0..1)")
    unknown_kid_cooldown_seconds: float = _doc(
        30.0, "at most one refetch per cooldown for new kids"
    )
    stale_max_age_seconds: float = _doc(3600.0, "serve last good keys this long when the IdP fails")
    fetch_timeout_seconds: float = _doc(5.0, "timeout of each discovery / JWKS request")
    ca_file: str | None = _doc(None, "extra CA bundle (PEM) for talking to the IdP")


@dataclass(frozen=True, slots=True)
class HeaderConfig:
    """Identity headers injected upstream (and always stripped from clients)."""

    preset: str = _doc("nemo", "nemo (X-NMP-*) or authgate (X-Auth-Request-*)")
    principal_id: str | None = _doc(None, "overrides the preset's principal-id header name")
    email: str | None = _doc(None, "overrides the preset's email header name")
    groups: str | None = _doc(None, "overrides the preset's groups header name (comma-joined)")
    scopes: str | None = _doc(None, "overrides the preset's scopes header name (space-joined)")
    pod_name: str | None = _doc(
        None, "overrides the preset's header for the calling pod's name (service-account tokens)"
    )
    pod_uid: str | None = _doc(
        None, "overrides the preset's header for the calling pod's uid (service-account tokens)"
    )
    strip: tuple[str, ...] = _doc((), "extra client headers to always remove")
    forward_authorization: bool = _doc(False, "pass the Authorization header to the upstream")
    set_forwarded: bool = _doc(True, "set X-Forwarded-For / -Proto / -Host")

    def name_for(self, slot: str) -> str:
        """The effective header name for an identity slot (:data:`IDENTITY_SLOTS`)."""
        override: str | None = getattr(self, slot)
        if override:
            return override
        preset = HEADER_PRESETS.get(self.preset, HEADER_PRESETS["nemo"])
        return preset[slot]


@dataclass(frozen=True, slots=True)
class PathRule:
    """Scopes and groups for every path under ``path_prefix``."""

    path_prefix: str = _doc("", "normalised path prefix, starting with /")
    read_scopes: tuple[str, ...] | None = _doc(None, "GET/HEAD/OPTIONS; null inherits the default")
    write_scopes: tuple[str, ...] | None = _doc(None, "other methods; null inherits the default")
    groups: tuple[str, ...] = _doc((), "principal must be in at least one of these, when set")


@dataclass(frozen=True, slots=True)
class AuthorizationConfig:
    """Which requests need which scopes and groups."""

    public_paths: tuple[str, ...] = _doc(
        ("/apis/auth/discovery", "/healthz", "/readyz"),
        "always allowed without a token: exact paths, or prefixes ending in /",
    )
    read_scopes: tuple[str, ...] = _doc(("platform:read",), "default rule for GET, HEAD, OPTIONS")
    write_scopes: tuple[str, ...] = _doc(("platform:write",), "default rule for other methods")
    rules: tuple[PathRule, ...] = _doc((), "per-prefix rules; the longest matching prefix wins")


@dataclass(frozen=True, slots=True)
class LimitsConfig:
    """Resource limits of the data path."""

    max_header_bytes: int = _doc(16384, "total request-header size accepted")
    max_in_flight: int = _doc(1024, "beyond this many concurrent requests, shed with 503")
    drain_timeout_seconds: float = _doc(20.0, "SIGTERM: in-flight requests finish within this")


@dataclass(frozen=True, slots=True)
class QuickstartConfig:
    """Local demo mode: accepts unsigned (alg: none) tokens with an email claim."""

    enabled: bool = _doc(False, "never in production")
    allow_non_loopback: bool = _doc(False, "permit a non-loopback listen address (loud warning)")


@dataclass(frozen=True, slots=True)
class ProxyConfig:
    """The whole document (apart from ``apiVersion``/``kind``, which are checked)."""

    server: ServerConfig = field(default_factory=ServerConfig, metadata={"doc": "data-path engine"})
    listen: ListenConfig = field(default_factory=ListenConfig, metadata={"doc": "client listener"})
    admin: AdminConfig = field(
        default_factory=AdminConfig, metadata={"doc": "health / readiness / metrics listener"}
    )
    upstream: UpstreamConfig = field(
        default_factory=UpstreamConfig, metadata={"doc": "the protected service"}
    )
    auth_enabled: bool = _doc(True, "false lets every request through (identity still stripped)")
    oidc: OIDCConfig = field(default_factory=OIDCConfig, metadata={"doc": "identity provider"})
    tokens: TokenConfig = field(default_factory=TokenConfig, metadata={"doc": "token checks"})
    keys: KeyConfig = field(default_factory=KeyConfig, metadata={"doc": "JWKS cache"})
    headers: HeaderConfig = field(
        default_factory=HeaderConfig, metadata={"doc": "identity headers"}
    )
    authorization: AuthorizationConfig = field(
        default_factory=AuthorizationConfig, metadata={"doc": "scope and group rules"}
    )
    limits: LimitsConfig = field(default_factory=LimitsConfig, metadata={"doc": "resource limits"})
    quickstart: QuickstartConfig = field(
        default_factory=QuickstartConfig, metadata={"doc": "local demo mode"}
    )
    issuers: tuple[IssuerEntry, ...] = _doc(
        (),
        "more issuers whose tokens are accepted next to the IdP, each with its own "
        "keys, audience and claim mapping (e.g. the cluster's service-account issuer)",
    )


def parse_config(document: Mapping[str, Any], env: Mapping[str, str] | None = None) -> ProxyConfig:
    """Validate ``document`` (with ``AUTHGATE__…`` overrides from ``env``) into a
    :class:`ProxyConfig`, or raise one :class:`ConfigError` listing every problem.

    ``env`` defaults to no overrides; pass ``os.environ`` to honour the process
    environment.
    """
    from .validation import validate_document

    return validate_document(document, env or {})


def load_config(path: str | os.PathLike[str], env: Mapping[str, str] | None = None) -> ProxyConfig:
    """Read a YAML file and :func:`parse_config` it.  I/O and YAML syntax
    problems are reported as :class:`ConfigError` too."""
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as exc:
        raise ConfigError([f"{os.fspath(path)}: cannot read: {exc.strerror or exc}"]) from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError([f"{os.fspath(path)}: {problem}{where}"]) from None
    if document is None:
        document = {}
    if not isinstance(document, Mapping):
        raise ConfigError([f"{os.fspath(path)}: the document must be a mapping"])
    return parse_config(document, env)


def config_to_document(config: ProxyConfig) -> dict[str, Any]:
    """The YAML-ready document for ``config``; ``parse_config`` of it gives back
    an equal :class:`ProxyConfig`.  Used by the operator to render ConfigMaps."""
    from .validation import to_document

    document: dict[str, Any] = to_document(config)
    return document


# -- issuer entries (credential kinds, one mechanism) ---------------------------------

#: Kinds of issuer entry: how an entry's verified claims become a principal
#: (see :mod:`authgate.core.issuers`, which holds one claim mapper per kind).
ISSUER_KINDS: tuple[str, ...] = ("oidc", "kubernetes", "access_key")

#: Where a pod finds its cluster CA and its own service-account token.
IN_CLUSTER_CA_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"
IN_CLUSTER_TOKEN_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/token"  # noqa: S105


@dataclass(frozen=True, slots=True)
class IssuerClaims:
    """How an entry's claims become a principal; unset fields take the kind's default."""

    principal: str | None = _doc(
        None,
        "principal-id template: oidc default '{sub}'; kubernetes default "
        "'service:{namespace}/{name}' (fields: sub, namespace, name, uid)",
    )
    subject: str | None = _doc(None, "claim holding the subject; default tokens.subject_claim")
    email: str | None = _doc(None, "claim holding the email; default tokens.email_claim (oidc)")
    groups: str | None = _doc(None, "claim holding the groups; default tokens.groups_claim (oidc)")
    scope_prefix: str | None = _doc(None, "prefix stripped from scopes; default oidc.scope_prefix")


@dataclass(frozen=True, slots=True)
class ServiceAccountGrant:
    """Scopes for the service accounts matching ``namespace``/``name`` (fnmatch globs)."""

    namespace: str = _doc("", "namespace, or a glob such as 'jobs-*' (required)")
    name: str = _doc("*", "service-account name, or a glob")
    scopes: tuple[str, ...] = _doc((), "the scopes these service accounts get (required)")


@dataclass(frozen=True, slots=True)
class KubernetesIssuer:
    """Settings of a ``kind: kubernetes`` entry: the cluster's service-account issuer."""

    api_server: str = _doc(
        "https://kubernetes.default.svc",
        "apiserver URL serving /.well-known/openid-configuration and /openid/v1/jwks",
    )
    allowed_service_accounts: tuple[ServiceAccountGrant, ...] = _doc(
        (), "the allow-list, first match wins; an unlisted service account gets 403"
    )
    groups: tuple[str, ...] = _doc(
        ("system:serviceaccounts", "system:serviceaccounts:{namespace}"),
        "group templates (fields: namespace, name); the namespace becomes a group",
    )


@dataclass(frozen=True, slots=True)
class AccessKeyIssuer:
    """Settings of a ``kind: access_key`` entry: the operator's access-key issuer
    (rendered by the operator when ``spec.accessKeys.enabled``; see docs/access-keys.md)."""

    revocation_url: str | None = _doc(
        None, "the operator's revocation list; default {issuer}/revocations"
    )
    poll_seconds: float = _doc(2.0, "how often the revocation list is polled (ETag/304)")
    max_stale_seconds: float = _doc(
        60.0, "without a fresh revocation list this long, access keys are refused (fail closed)"
    )


@dataclass(frozen=True, slots=True)
class IssuerEntry:
    """One more issuer whose tokens are accepted next to ``oidc`` (routed by ``iss``)."""

    name: str = _doc("", "unique label for logs, metrics and status (required)")
    kind: str = _doc("oidc", "how claims map to a principal: " + " | ".join(ISSUER_KINDS))
    issuer: str = _doc("", "the exact `iss` of this issuer's tokens (required)")
    audience: tuple[str, ...] = _doc((), "accepted `aud`; empty means the provider's audience")
    discovery_url: str | None = _doc(
        None,
        "metadata document URL; default {issuer}/.well-known/openid-configuration "
        "(kubernetes: {api_server}/.well-known/openid-configuration)",
    )
    jwks_uri: str | None = _doc(
        None, "JWKS URL (https, or file:// for a mounted key set); overrides the metadata's"
    )
    ca_file: str | None = _doc(
        None, "CA bundle for fetching keys; default keys.ca_file (kubernetes: the in-pod CA)"
    )
    token_file: str | None = _doc(
        None,
        "bearer token file sent when fetching keys, re-read each time (kubernetes default: "
        "the sidecar's own service-account token, for clusters without anonymous discovery)",
    )
    claims: IssuerClaims = field(
        default_factory=IssuerClaims, metadata={"doc": "claim mapping overrides"}
    )
    kubernetes: KubernetesIssuer = field(
        default_factory=KubernetesIssuer,
        metadata={"doc": "service-account settings (kind: kubernetes only)"},
    )
    access_key: AccessKeyIssuer = field(
        default_factory=AccessKeyIssuer,
        metadata={"doc": "revocation-list settings (kind: access_key only; the operator sets it)"},
    )

    @property
    def effective_ca_file(self) -> str | None:
        """``ca_file``, or the in-pod cluster CA for a kubernetes entry."""
        if self.ca_file is not None:
            return self.ca_file or None
        return IN_CLUSTER_CA_FILE if self.kind == "kubernetes" else None

    @property
    def effective_token_file(self) -> str | None:
        """``token_file``, or the sidecar's own token for a kubernetes entry
        (an empty string turns it off: anonymous discovery)."""
        if self.token_file is not None:
            return self.token_file or None
        return IN_CLUSTER_TOKEN_FILE if self.kind == "kubernetes" else None

    @property
    def effective_discovery_url(self) -> str:
        if self.discovery_url:
            return self.discovery_url
        base = self.kubernetes.api_server if self.kind == "kubernetes" else self.issuer
        return base.rstrip("/") + "/.well-known/openid-configuration"

    @property
    def effective_jwks_uri(self) -> str | None:
        """The JWKS URL when fixed by config (kubernetes: the apiserver's own
        ``/openid/v1/jwks``, not the metadata's, which may name an external host)."""
        if self.jwks_uri:
            return self.jwks_uri
        if self.kind == "kubernetes":
            return self.kubernetes.api_server.rstrip("/") + "/openid/v1/jwks"
        return None

    @property
    def effective_revocation_url(self) -> str:
        """Where a ``kind: access_key`` entry's revocation list is polled."""
        return self.access_key.revocation_url or self.issuer.rstrip("/") + "/revocations"

"""The proxy configuration model: the frozen dataclasses, and nothing else.

The document (``apiVersion: authgate.io/v1alpha1``, ``kind: ProxyConfig``) is
written by people, by the operator (into a ConfigMap) and by the tests; the
proxy, the lean data path and the operator all read it through
:func:`parse_config`, so there is exactly one schema.  Every dataclass field
name is the YAML key, and every field carries its documentation in
``metadata["doc"]`` so the reference (``docs/config.md``) and the operator's CRD
schema can be derived from — or checked against — this module.

A field's bounds are declared here too, as keywords of ``_doc`` (see
:class:`.schema.Bounds`): ``_doc(60.0, "clock skew", minimum=0, maximum=600)``.
Validation, the CRD generator and the reference all read them from the field.

Parsing is schema-driven (see :mod:`.validation`): it walks these dataclasses
through :mod:`.schema`, collects *every* error with its path, and raises a
single :class:`~authgate.core.errors.ConfigError`.  Environment variables named
after a field's path (``AUTHGATE__OIDC__ISSUER``) override single fields
(:mod:`.env`).  The identity-provider sections (:class:`OIDCConfig`,
:class:`TokenConfig`, :class:`KeyConfig`) live in :mod:`.idp_model` and are
re-exported here.  Import the names from :mod:`authgate.core.config`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .idp_model import ASYMMETRIC_ALGORITHMS, OIDC_SCOPES, KeyConfig, OIDCConfig, TokenConfig
from .issuer_model import IssuerEntry
from .schema import HEADER_NAME_PATTERN, setting

__all__ = [
    "ASYMMETRIC_ALGORITHMS",
    "ATTRIBUTE_SLOTS",
    "HEADER_PRESETS",
    "IDENTITY_SLOTS",
    "OIDC_SCOPES",
    "AdminConfig",
    "AuthorizationConfig",
    "BrowserConfig",
    "GatewayConfig",
    "HeaderConfig",
    "KeyConfig",
    "LimitsConfig",
    "ListenConfig",
    "OIDCConfig",
    "PathRule",
    "ProxyConfig",
    "QuickstartConfig",
    "ServerConfig",
    "TokenConfig",
    "UpstreamConfig",
]


def _doc(default: Any, doc: str, **bounds: Any) -> Any:
    """A dataclass field with a default, its documentation and its bounds
    (keywords of :class:`.schema.Bounds`: ``minimum``, ``maximum``,
    ``exclusive_minimum``, ``pattern``, ``pattern_name``, ``choices``)."""
    return setting(default, doc, **bounds)


_HEADER_NAME: dict[str, Any] = {"pattern": HEADER_NAME_PATTERN, "pattern_name": "HTTP header name"}


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


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """Which HTTP data path serves client traffic."""

    engine: str = _doc(
        "auto",
        "auto | aiohttp | lean; auto picks lean when available",
        choices=("auto", "aiohttp", "lean"),
    )
    workers: int = _doc(
        1, "processes sharing the listen port with SO_REUSEPORT", minimum=1, maximum=256
    )
    trusted_proxies: tuple[str, ...] = _doc(
        (), "CIDRs of gateways/proxies whose forwarded headers are trusted; empty trusts none"
    )


@dataclass(frozen=True, slots=True)
class ListenConfig:
    """Where the proxy listens for client traffic."""

    host: str = _doc("127.0.0.1", "bind address; 0.0.0.0 in a pod")
    port: int = _doc(8080, "TCP port (0 picks a free port)", minimum=0, maximum=65535)


@dataclass(frozen=True, slots=True)
class AdminConfig:
    """Health (/healthz), readiness (/readyz) and Prometheus metrics (/metrics)."""

    host: str = _doc("127.0.0.1", "bind address of the admin listener")
    port: int = _doc(
        9090, "TCP port of the admin listener (0 picks a free port)", minimum=0, maximum=65535
    )


@dataclass(frozen=True, slots=True)
class UpstreamConfig:
    """The service behind the sidecar; traffic is streamed to it unchanged."""

    url: str = _doc("http://127.0.0.1:8000", "http(s) base URL of the protected service")
    connect_timeout_seconds: float = _doc(
        5.0, "connect timeout; refused/unreachable -> 502", minimum=0, exclusive_minimum=True
    )
    read_timeout_seconds: float = _doc(
        60.0, "no response within this -> 504", minimum=0, exclusive_minimum=True
    )
    max_connections: int = _doc(256, "keep-alive pool size", minimum=1)
    ca_file: str | None = _doc(
        None, "extra CA bundle (PEM) trusted for an https:// upstream (verification stays on)"
    )
    client_cert_file: str | None = _doc(
        None, "client certificate (PEM) for an upstream that requires mutual TLS"
    )
    client_key_file: str | None = _doc(
        None, "private key (PEM) of client_cert_file; omit when the cert file holds it"
    )


@dataclass(frozen=True, slots=True)
class HeaderConfig:
    """Identity headers injected upstream (and always stripped from clients)."""

    preset: str = _doc(
        "nemo",
        "nemo (X-NMP-*) or authgate (X-Auth-Request-*)",
        choices=tuple(sorted(HEADER_PRESETS)),
    )
    principal_id: str | None = _doc(
        None, "overrides the preset's principal-id header name", **_HEADER_NAME
    )
    email: str | None = _doc(None, "overrides the preset's email header name", **_HEADER_NAME)
    groups: str | None = _doc(
        None, "overrides the preset's groups header name (comma-joined)", **_HEADER_NAME
    )
    scopes: str | None = _doc(
        None, "overrides the preset's scopes header name (space-joined)", **_HEADER_NAME
    )
    pod_name: str | None = _doc(
        None,
        "overrides the preset's header for the calling pod's name (service-account tokens)",
        **_HEADER_NAME,
    )
    pod_uid: str | None = _doc(
        None,
        "overrides the preset's header for the calling pod's uid (service-account tokens)",
        **_HEADER_NAME,
    )
    strip: tuple[str, ...] = _doc((), "extra client headers to always remove", **_HEADER_NAME)
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
    scopeless_tokens: str = _doc(
        "deny",
        "deny | allow: a token with no API scope (none, or only openid/profile/email/"
        "offline_access) is refused where scopes are required (deny), or skips the scope "
        "check as the NeMo Platform does (allow: risky without a second authorization layer)",
        choices=("deny", "allow"),
    )


@dataclass(frozen=True, slots=True)
class LimitsConfig:
    """Resource limits of the data path."""

    max_header_bytes: int = _doc(16384, "total request-header size accepted", minimum=1024)
    max_in_flight: int = _doc(
        1024, "beyond this many concurrent requests, shed with 503", minimum=1
    )
    drain_timeout_seconds: float = _doc(
        20.0, "SIGTERM: in-flight requests finish within this", minimum=0
    )


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
    gateway: GatewayConfig = field(
        default_factory=lambda: GatewayConfig(),
        metadata={"doc": "gateway mode: auth_request / forward-auth / ext_authz checks"},
    )
    browser: BrowserConfig = field(
        default_factory=lambda: BrowserConfig(),
        metadata={"doc": "browser sign-in (authorization code + PKCE, cookie session)"},
    )


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    """Gateway mode: answer an ingress's authorization callouts instead of (or
    besides) proxying.  The check endpoints read the original method and URI
    from headers, so they trust only peers in ``server.trusted_proxies``."""

    enabled: bool = _doc(False, "serve /apis/auth/check, /apis/auth/forward-auth, ext_authz")
    proxy_upstream: bool = _doc(True, "false: only /apis/auth/ is served, other paths get 404")
    envoy_path_prefix: str = _doc(
        "/apis/auth/ext-authz", "Envoy ext_authz http_service path_prefix (normalised, no '/')"
    )
    cache_size: int = _doc(0, "decision-cache entries (0 = off); never shared across tokens")
    cache_ttl_seconds: float = _doc(10.0, "a cached decision lives at most this long (and <= exp)")


@dataclass(frozen=True, slots=True)
class BrowserConfig:
    """Browser sign-in: OIDC authorization code + PKCE and an encrypted cookie session.

    Off by default.  When on, a navigation without credentials is redirected
    to the IdP instead of getting a JSON 401, ``/apis/auth/callback``,
    ``/apis/auth/login``, ``/apis/auth/logout`` and ``/apis/auth/session`` are
    served, and a valid session cookie counts as a bearer token (see
    ``docs/proxy.md``, "Browser sign-in").
    """

    enabled: bool = _doc(False, "serve browser sign-in and accept the session cookie")
    client_id: str = _doc("", "the web client's id; empty means oidc.client_id")
    client_secret_file: str | None = _doc(
        None, "file holding the client secret (confidential client); null = public client"
    )
    session_keys_dir: str = _doc(
        "", "mounted Secret: one base64 key file per key id and 'current' naming the sealing kid"
    )
    scopes: str | None = _doc(None, "scopes requested at login; null means oidc.default_scopes")
    redirect_url: str | None = _doc(
        None, "absolute callback URL; null derives it from the Host header"
    )
    cookie_domain: str | None = _doc(
        None, "Domain attribute; null = host-only __Host- cookie (recommended)"
    )
    session_lifetime_seconds: float = _doc(
        28800.0, "a session ends this long after login", minimum=60
    )
    refresh_before_seconds: float = _doc(
        60.0, "refresh the access token when it expires within this", minimum=0
    )
    login_timeout_seconds: float = _doc(
        600.0, "how long a started login (state cookie) lasts", minimum=30, maximum=3600
    )
    never_redirect: tuple[str, ...] = _doc(
        (), "paths answered with 401 JSON, never a login redirect: exact, or prefixes ending in /"
    )
    trusted_origins: tuple[str, ...] = _doc(
        (), "other origins allowed to send cookie-authenticated state-changing requests"
    )
    post_logout_redirect_url: str | None = _doc(
        None, "where the IdP sends the user after logout; null = this origin's /"
    )
    insecure_http_loopback: bool = _doc(
        False, "dev only: plain http and non-Secure cookies when the Host is loopback"
    )

    def effective_client_id(self, oidc: OIDCConfig) -> str:
        return self.client_id or oidc.client_id

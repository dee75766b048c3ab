"""The discovery document served at ``GET /apis/auth/discovery``.

Its shape is the NeMo Platform's, which users' CLIs and SDKs already parse::

    {"auth_enabled": true,
     "oidc": {"issuer", "token_endpoint", "device_authorization_endpoint",
              "client_id", "default_scopes", "scope_prefix"[, "authorization_endpoint",
              "userinfo_endpoint"]}}

plus ``accepted_audiences``, ``revocation_endpoint`` (RFC 7009, from the
IdP's metadata), ``token_request_params`` (``resource``/``audience`` every
token request must carry, when configured) and ``endpoints_unknown`` (a
sentence, when the IdP has not been reached since the proxy started), or
``{"auth_enabled": false}``.  A provider with access keys also publishes
``access_keys_endpoint`` (the operator's API for its keys).  Endpoints
configured in ``oidc.*`` win over the IdP's own metadata.  In quickstart mode
the document says so and tells the user how to log in with an unsigned token.
"""

from __future__ import annotations

from typing import Any

from .config import ProxyConfig
from .contracts import ACCESS_KEY_ISSUER_PATH, ACCESS_KEYS_API_PATH
from .oidc import ProviderMetadata
from .quickstart import QUICKSTART_ISSUER

__all__ = ["QUICKSTART_LOGIN_HINT", "access_keys_endpoint", "discovery_document"]

QUICKSTART_LOGIN_HINT = "authgate login --unsigned-token --email you@example.com"


def discovery_document(config: ProxyConfig, metadata: ProviderMetadata | None) -> dict[str, Any]:
    """The JSON-ready discovery document for ``config`` (and the IdP's metadata)."""
    if not config.auth_enabled:
        return {"auth_enabled": False}
    oidc = config.oidc

    def endpoint(name: str) -> str | None:
        configured: str | None = getattr(oidc, name)
        if configured:
            return configured
        return getattr(metadata, name) if metadata is not None else None

    body: dict[str, Any] = {
        "issuer": oidc.issuer or (QUICKSTART_ISSUER if config.quickstart.enabled else ""),
        # What the platform accepts, so a client can check a fresh token against it.
        "accepted_audiences": list(oidc.effective_audience),
        "token_endpoint": endpoint("token_endpoint"),
        "device_authorization_endpoint": endpoint("device_authorization_endpoint"),
        "client_id": oidc.client_id,
        "default_scopes": oidc.default_scopes,
        "scope_prefix": oidc.scope_prefix,
    }
    # A web UI starts a login from these alone (as NeMo Platform's document allows).
    authorization_endpoint = endpoint("authorization_endpoint")
    if authorization_endpoint:
        body["authorization_endpoint"] = authorization_endpoint
    userinfo_endpoint = metadata.userinfo_endpoint if metadata is not None else None
    if userinfo_endpoint:
        body["userinfo_endpoint"] = userinfo_endpoint
    document: dict[str, Any] = {"auth_enabled": True, "oidc": body}
    if config.quickstart.enabled:
        document["quickstart"] = True
        document["login_hint"] = QUICKSTART_LOGIN_HINT
    if metadata is not None and metadata.revocation_endpoint:
        body["revocation_endpoint"] = metadata.revocation_endpoint
    params = {
        name: value
        for name, value in (
            ("resource", oidc.request_resource),
            ("audience", oidc.request_audience),
        )
        if value
    }
    if params:
        body["token_request_params"] = params
    if body["token_endpoint"] is None and not config.quickstart.enabled:
        # Restarted while the IdP is unreachable: nothing learnt yet.  Say so plainly
        # instead of leaving a client to call the document malformed.
        body["endpoints_unknown"] = (
            "the platform cannot currently reach its identity provider, so its endpoints "
            "are not known yet; retry shortly"
        )
    endpoint_url = access_keys_endpoint(config)
    if endpoint_url:
        document["access_keys_endpoint"] = endpoint_url
    return document


def access_keys_endpoint(config: ProxyConfig) -> str | None:
    """Where ``authgate access-keys`` manages this provider's keys: the operator
    that runs its access-key issuer (``<operator>/apis/auth/v2/issuers/<ns>/<name>``)."""
    for entry in config.issuers:
        base, sep, provider = entry.issuer.partition(ACCESS_KEY_ISSUER_PATH + "/")
        if entry.kind == "access_key" and sep and provider.count("/") == 1:
            return f"{base}{ACCESS_KEYS_API_PATH}?provider={provider}"
    return None

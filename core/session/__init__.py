"""Browser sign-in: authorization code + PKCE and an encrypted cookie session.

* :mod:`.crypto` — sealed values (AES-GCM, key ids, rotation) and cookie chunks;
* :mod:`.redirect` — the post-login landing-path validator;
* :mod:`.cookies` — cookie names/attributes, the request origin, CSRF;
* :mod:`.flow` — the OIDC flow against the IdP through an injected poster;
* :mod:`.browser` — the session as a credential source, and login redirects;
* :mod:`.endpoints` — ``/apis/auth/{login,callback,logout,session}``.

:func:`build_browser` assembles it from the config; the proxy's runtime
calls it once per configuration snapshot.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping

from ..config import ProxyConfig
from ..keys import KeyCache
from ..oidc import ProviderMetadata
from ..verify import TokenVerifier
from .browser import Answer, BrowserSessions, SessionCredential
from .cookies import CookiePolicy
from .crypto import KeyringSource
from .endpoints import BROWSER_PATHS, handle_browser_endpoint
from .flow import Client, Endpoints, LoginFlow, Poster

__all__ = [
    "BROWSER_PATHS",
    "Answer",
    "BrowserSessions",
    "SessionCredential",
    "build_browser",
    "handle_browser_endpoint",
]


def _read_secret(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as fh:
            secret = fh.read().strip()
    except OSError as exc:
        raise ValueError(f"{path}: cannot read the client secret: {exc.strerror}") from None
    if not secret:
        raise ValueError(f"{path}: the client secret file is empty")
    return secret


def build_browser(
    config: ProxyConfig,
    keys: Mapping[str, KeyCache],
    metadata: Callable[[], ProviderMetadata | None],
    post: Poster,
    *,
    access_verifier: TokenVerifier,
) -> BrowserSessions | None:
    """The browser sign-in for ``config`` (``None`` when ``browser.enabled`` is
    false).  Raises ``ValueError`` when the key directory or the client secret
    cannot be read (the proxy then refuses the configuration)."""
    b = config.browser
    if not b.enabled:
        return None
    oidc = config.oidc
    client_id = b.effective_client_id(oidc)
    secret = _read_secret(b.client_secret_file) if b.client_secret_file else None
    ring = KeyringSource(b.session_keys_dir)
    # The ID token's audience is the web client (OIDC Core §2); only the primary issuer signs in.
    id_config = dataclasses.replace(
        config, oidc=dataclasses.replace(oidc, audience=(client_id,), additional_issuers=())
    )
    id_verifier = TokenVerifier(id_config, {oidc.issuer: keys[oidc.issuer]})

    def endpoints() -> Endpoints | None:
        meta = metadata()
        authorization = oidc.authorization_endpoint or (
            meta.authorization_endpoint if meta else None
        )
        token = oidc.token_endpoint or (meta.token_endpoint if meta else None)
        if not authorization or not token:
            return None
        return Endpoints(authorization, token, meta.end_session_endpoint if meta else None)

    flow = LoginFlow(
        Client(client_id, secret, b.scopes or oidc.default_scopes),
        oidc.issuer,
        ring.get,
        endpoints,
        post,
        id_verifier,
        access_verifier,
        login_timeout=b.login_timeout_seconds,
        session_lifetime=b.session_lifetime_seconds,
    )
    return BrowserSessions(
        flow,
        CookiePolicy(domain=b.cookie_domain),
        insecure_loopback=b.insecure_http_loopback,
        refresh_before=b.refresh_before_seconds,
        never_redirect=b.never_redirect,
        trusted_origins=b.trusted_origins,
        redirect_url=b.redirect_url,
        post_logout_url=b.post_logout_redirect_url,
    )

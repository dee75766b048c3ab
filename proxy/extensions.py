"""What the shared runtime plugs into both engines: endpoints and credential sources.

This is the one place to register an addition to the edge:

* :data:`ENDPOINTS` — factories ``(ProxyConfig) -> Iterable[Endpoint]`` for
  paths under ``/apis/auth/`` that the proxy answers itself
  (:mod:`authgate.proxy.routes`);
* :data:`CREDENTIAL_SOURCES` — factories ``(ProxyConfig, TokenVerifier) ->
  CredentialSource | None`` the Gate asks, in order, when a request has no
  ``Authorization`` header (:mod:`authgate.core.credentials`).

Both lists are read each time a :class:`~authgate.proxy.runtime.Runtime` is
built (at start and on every hot reload), so a factory sees the current
config and returns nothing when its feature is switched off.  Order matters
only between credential sources: the first credential found wins.
"""

from __future__ import annotations

from authgate.core.credentials import CredentialSourceFactory

from .browser import browser_endpoints, session_cookie_source
from .gateway_routes import gateway_endpoints
from .routes import EndpointFactory, discovery_endpoints

__all__ = ["CREDENTIAL_SOURCES", "ENDPOINTS"]

ENDPOINTS: tuple[EndpointFactory, ...] = (
    discovery_endpoints,
    gateway_endpoints,
    browser_endpoints,
)

#: The browser session cookie (``browser.enabled``): :func:`.browser.session_cookie_source`.
CREDENTIAL_SOURCES: tuple[CredentialSourceFactory, ...] = (session_cookie_source,)

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

from .browser import browser_endpoints
from .routes import EndpointFactory, discovery_endpoints

__all__ = ["CREDENTIAL_SOURCES", "ENDPOINTS"]

ENDPOINTS: tuple[EndpointFactory, ...] = (discovery_endpoints, browser_endpoints)

#: The browser session cookie is added per snapshot by the runtime
#: (:func:`authgate.core.session.source.session_source`): it needs that snapshot's
#: key caches and IdP session, which a ``(config, verifier)`` factory cannot reach.
CREDENTIAL_SOURCES: tuple[CredentialSourceFactory, ...] = ()

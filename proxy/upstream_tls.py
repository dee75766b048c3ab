"""The TLS client context both engines use towards an ``https://`` upstream.

Built once from the parsed :class:`~authgate.core.upstream.UpstreamTarget`:
the system trust store plus ``upstream.ca_file`` (a private CA, as in-cluster
services usually have), certificate and host-name verification always on
(RFC 9110 §4.3.4: an ``https`` origin is authoritative only with a verified
certificate for its host), TLS 1.2 as the floor, and an optional client
certificate (``upstream.client_cert_file`` / ``client_key_file``) for an
upstream that requires mutual TLS.  SNI is the upstream URL's host name —
never the client's ``Host``, which names the proxy, not the upstream.
"""

from __future__ import annotations

import ssl

from authgate.core.upstream import UpstreamTarget

__all__ = ["upstream_ssl_context"]


def upstream_ssl_context(target: UpstreamTarget) -> ssl.SSLContext | None:
    """The verifying client context for ``target``, or ``None`` for plain HTTP."""
    if not target.tls:
        return None
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if target.ca_file:
        context.load_verify_locations(cafile=target.ca_file)
    if target.client_cert_file:
        context.load_cert_chain(target.client_cert_file, target.client_key_file or None)
    # HTTP/1.1 only: both engines speak nothing else to the upstream.
    context.set_alpn_protocols(["http/1.1"])
    return context

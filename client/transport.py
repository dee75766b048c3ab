"""HTTP clients that trust the right CAs and turn network failures into our errors.

The IdP often sits behind a private CA (a test CA, a company CA), so every
request made by the CLI and SDK verifies TLS against, in order:

* the system trust store, which OpenSSL extends with ``SSL_CERT_FILE`` /
  ``SSL_CERT_DIR`` when they are set;
* the cluster's ``ca_file`` (``--ca-file`` / ``AUTHGATE_CA_FILE``, stored per
  cluster in the config file).

Proxies from the environment (``HTTPS_PROXY``, ``NO_PROXY``) are honoured by httpx.
"""

from __future__ import annotations

import os
import ssl
from urllib.parse import urlsplit

import httpx

from authgate.client.errors import ConfigFileError, Unreachable

DEFAULT_TIMEOUT = httpx.Timeout(15.0, connect=5.0)
CA_FILE_ENV = "AUTHGATE_CA_FILE"
USER_AGENT = "authgate-client/0.1"


def ssl_context(ca_file: str | None) -> ssl.SSLContext:
    """A verifying TLS context: system roots (+ ``SSL_CERT_FILE``) plus ``ca_file``."""
    context = ssl.create_default_context()
    if ca_file:
        try:
            context.load_verify_locations(cafile=ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigFileError(
                f"cannot load CA file {ca_file}: {exc.__class__.__name__}",
                hint="pass a PEM bundle with --ca-file or AUTHGATE_CA_FILE",
            ) from exc
    return context


def sync_client(ca_file: str | None, timeout: httpx.Timeout = DEFAULT_TIMEOUT) -> httpx.Client:
    return httpx.Client(
        verify=ssl_context(ca_file), timeout=timeout, headers={"User-Agent": USER_AGENT}
    )


def async_client(
    ca_file: str | None, timeout: httpx.Timeout = DEFAULT_TIMEOUT, base_url: str = ""
) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        verify=ssl_context(ca_file),
        timeout=timeout,
        base_url=base_url,
        headers={"User-Agent": USER_AGENT},
    )


def origin(url: str) -> str:
    """``scheme://host:port`` of a URL: safe to show (no path, query or credentials)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")


def unreachable(what: str, url: str, exc: httpx.HTTPError) -> Unreachable:
    """Describe a transport failure without a traceback (and without any token)."""
    if isinstance(exc, httpx.TimeoutException):
        detail = "timed out"
    elif isinstance(exc, httpx.ConnectError):
        text = str(exc)
        if "CERTIFICATE_VERIFY_FAILED" in text:
            return Unreachable(
                f"cannot verify the TLS certificate of {what} at {origin(url)}",
                hint=f"trust its CA with --ca-file FILE, {CA_FILE_ENV} or SSL_CERT_FILE",
            )
        if url.startswith("https://") and any(
            marker in text
            for marker in (
                "WRONG_VERSION_NUMBER",
                "RECORD_LAYER_FAILURE",
                "PACKET_LENGTH_TOO_LONG",
                "record layer",
            )
        ):
            return Unreachable(
                f"{what} at {origin(url)} does not speak TLS: it is probably plain http",
                hint="use an http:// URL for it, or enable TLS on the platform",
            )
        detail = "connection failed (is it running?)"
    else:
        detail = exc.__class__.__name__
    return Unreachable(f"cannot reach {what} at {origin(url)}: {detail}")


def env_ca_file() -> str | None:
    value = os.environ.get(CA_FILE_ENV, "").strip()
    return value or None

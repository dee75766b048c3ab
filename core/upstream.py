"""The upstream as both engines must reach it, parsed once from ``upstream.url``.

Each engine used to read ``upstream.url`` its own way, and they disagreed:
the lean engine ignored the scheme (plaintext to an ``https://`` upstream)
and the base path.  :class:`UpstreamTarget` is the one parsed, validated
form: scheme, host, port, base path and TLS settings.  The engines only
consume it — the TLS context is built from it by the shared runtime
(:mod:`authgate.proxy.upstream_tls`), and :meth:`UpstreamTarget.target`
is how a client's request target is joined to the base path.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from .config import UpstreamConfig

__all__ = ["UpstreamTarget"]

_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True, slots=True)
class UpstreamTarget:
    """Where requests go: ``scheme://host:port`` + ``base_path`` + client target."""

    scheme: str
    host: str
    port: int
    #: Prefix joined before every request target; ``""`` or ``/x`` (no trailing ``/``).
    base_path: str
    ca_file: str | None
    client_cert_file: str | None
    client_key_file: str | None
    connect_timeout: float
    read_timeout: float
    max_connections: int

    @classmethod
    def from_config(cls, upstream: UpstreamConfig) -> UpstreamTarget:
        """Parse ``upstream.url`` (validation has already refused bad ones)."""
        parts = urlsplit(upstream.url)
        scheme = (parts.scheme or "http").lower()
        return cls(
            scheme=scheme,
            host=parts.hostname or "127.0.0.1",
            port=parts.port or _DEFAULT_PORTS.get(scheme, 80),
            base_path=parts.path.rstrip("/"),
            ca_file=getattr(upstream, "ca_file", None),
            client_cert_file=getattr(upstream, "client_cert_file", None),
            client_key_file=getattr(upstream, "client_key_file", None),
            connect_timeout=upstream.connect_timeout_seconds,
            read_timeout=upstream.read_timeout_seconds,
            max_connections=upstream.max_connections,
        )

    @property
    def tls(self) -> bool:
        """True for an ``https://`` upstream: verified TLS with SNI = :attr:`host`."""
        return self.scheme == "https"

    @property
    def origin(self) -> str:
        """``scheme://host[:port]`` (IPv6 literals bracketed), without the base path."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = _DEFAULT_PORTS.get(self.scheme)
        port = "" if self.port == default else f":{self.port}"
        return f"{self.scheme}://{host}{port}"

    @property
    def authority(self) -> str:
        """``host[:port]`` of :attr:`origin`: the ``Host`` sent upstream when an
        HTTP/1.0 client sent none (an HTTP/1.1 request needs one, RFC 9112 §3.2)."""
        return self.origin.split("://", 1)[1]

    def target(self, raw_target: str) -> str:
        """The upstream request target: the base path, then the client's
        origin-form target byte-exact (``/api`` + ``/x?y`` = ``/api/x?y``)."""
        return self.base_path + raw_target if self.base_path else raw_target

    def target_bytes(self, raw_target: bytes) -> bytes:
        """:meth:`target` for the lean engine's raw bytes."""
        if not self.base_path:
            return raw_target
        return self.base_path.encode("ascii") + raw_target

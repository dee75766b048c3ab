"""``X-Forwarded-*``: what the proxy tells the upstream about the client, one rule for both engines.

With ``headers.set_forwarded`` (the default) the header plan drops every
client spelling of ``X-Forwarded-*`` (any suffix: ``-For``, ``-Host``,
``-Proto``, ``-Uri``, ``-Prefix``, …; ``_`` and ``.`` folded) and RFC 7239
``Forwarded``, and :meth:`ForwardingPlan.values` sets three fields from what
the engine saw:

* the TCP peer is **not** in ``server.trusted_proxies`` (the default: trust
  none): ``X-Forwarded-For: <peer>``, ``X-Forwarded-Host: <Host>`` (omitted
  when the client sent no ``Host``), ``X-Forwarded-Proto: http|https`` (how
  the client reached this listener).  Nothing the client sent survives, so a
  client cannot claim an address, host or scheme (oauth2-proxy
  GHSA-7x63-xv5r-3p2x spoofed ``X-Forwarded-Uri``).
* the peer **is** trusted (a load balancer in front of the sidecar): its
  ``X-Forwarded-For`` chain is kept and the peer appended
  (``<chain>, <peer>``), and its ``X-Forwarded-Host``/``-Proto`` are kept when
  present (else ``Host`` and the listener's scheme, as above).  Only these
  three are taken from a trusted peer; every other ``X-Forwarded-*`` is still
  dropped.

Values are read from the client's raw header list (the plan's filtered list
no longer has them) and control characters are removed.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from .headers import safe_value

__all__ = ["ForwardingPlan", "peer_trusted"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=16)
def _networks(cidrs: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(c, strict=False) for c in cidrs)


def peer_trusted(peer: str, cidrs: Sequence[str]) -> bool:
    """True when ``peer`` (an IP address, possibly IPv4-mapped IPv6) lies in
    one of ``cidrs`` (``server.trusted_proxies``; empty trusts nobody)."""
    if not cidrs:
        return False
    try:
        address = ipaddress.ip_address(peer.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in _networks(tuple(cidrs)))


@dataclass(frozen=True, slots=True)
class ForwardingPlan:
    """The ``X-Forwarded-*`` rule compiled from the config (see the module docstring)."""

    enabled: bool
    trusted: tuple[str, ...]

    def values(
        self, peer: str, scheme: str, headers: Sequence[tuple[str, str]]
    ) -> list[tuple[str, str]]:
        """The fields to add to the upstream request (empty when ``set_forwarded`` is off)."""
        if not self.enabled:
            return []
        host: str | None = None
        chain: list[str] = []
        fwd_host: str | None = None
        fwd_proto: str | None = None
        trusted = bool(self.trusted) and peer_trusted(peer, self.trusted)
        for name, value in headers:
            size = len(name)
            if size == 4 and name.lower() == "host":
                host = value.strip(" \t")
            elif trusted and size >= 15 and name[:12].lower() == "x-forwarded-":
                suffix = name[12:].lower()
                if suffix == "for":
                    chain.extend(p.strip() for p in value.split(",") if p.strip())
                elif suffix == "host" and fwd_host is None:
                    fwd_host = value.strip()
                elif suffix == "proto" and fwd_proto is None:
                    fwd_proto = value.strip()
        chain.append(peer)
        out = [("X-Forwarded-For", safe_value(", ".join(chain)))]
        out.append(("X-Forwarded-Proto", safe_value(fwd_proto) if fwd_proto else scheme))
        forwarded_host = fwd_host or host
        if forwarded_host:
            out.append(("X-Forwarded-Host", safe_value(forwarded_host)))
        return out

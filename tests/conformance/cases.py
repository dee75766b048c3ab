"""A conformance case and what one engine did with it.

A :class:`Case` is raw request bytes (``TOKEN`` stands for a bearer token
minted with :attr:`Case.claims` when the case runs), the reply the recording
upstream sends, and how many requests the bytes hold.  An :class:`Observed`
is one engine's outcome: what the client got and what the upstream saw.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .recorder import DEFAULT_REPLY, Forwarded
from .wire import ClientOutcome

__all__ = ["TOKEN", "Case", "Observed", "request"]

#: Replaced by a freshly minted bearer token (claims from :attr:`Case.claims`).
TOKEN = b"@@TOKEN@@"


@dataclass(frozen=True)
class Case:
    name: str
    data: bytes
    reply: bytes = DEFAULT_REPLY
    claims: Mapping[str, Any] = field(default_factory=dict)
    requests: int = 1

    @property
    def head_request(self) -> bool:
        return self.data.startswith(b"HEAD ")


@dataclass(frozen=True)
class Observed:
    client: ClientOutcome
    upstream: tuple[Forwarded, ...]


def request(
    line: str | bytes,
    headers: Sequence[tuple[str | bytes, str | bytes]] | Sequence[bytes] = (),
    body: bytes = b"",
    *,
    host: bytes | None = b"h.example",
    close: bool = True,
) -> bytes:
    """Request bytes: ``line``, ``Host`` (unless ``None``), ``headers`` (pairs, or raw
    lines as bytes), ``Connection: close`` (unless ``close`` is false), then ``body``."""
    lines = [line.encode("latin-1") if isinstance(line, str) else line]
    if host is not None:
        lines.append(b"Host: " + host)
    for item in headers:
        if isinstance(item, bytes):
            lines.append(item)
            continue
        name, value = item
        n = name.encode("utf-8") if isinstance(name, str) else name
        v = value.encode("utf-8") if isinstance(value, str) else value
        lines.append(n + b": " + v)
    if close:
        lines.append(b"Connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n" + body

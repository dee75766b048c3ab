"""Normalise two engines' outcomes and list where they differ.

Normalisation keeps everything that carries meaning and removes what may
legitimately vary between runs: the ``Date`` value (its presence is kept),
the order of *different* field names (the order of repeated fields is kept),
and the case of field names.  Values and bodies are compared as bytes.

Every difference is checked against ``allowlist.yaml``: an entry names the
field (a glob over the dotted field path), optionally regexes the request
bytes or the upstream's reply must match and the status both engines must
have answered, and the reason the difference is deliberate.  What is not allowed fails the case.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .cases import Case, Observed

__all__ = ["ALLOWLIST", "Allowed", "Diff", "differences", "load_allowlist", "normalise"]

ALLOWLIST = Path(__file__).with_name("allowlist.yaml")


@dataclass(frozen=True)
class Diff:
    field: str
    lean: Any
    aiohttp: Any

    def __str__(self) -> str:
        return f"{self.field}: lean={self.lean!r} aiohttp={self.aiohttp!r}"


@dataclass(frozen=True)
class Allowed:
    id: str
    field: str
    reason: str
    request: re.Pattern[bytes] | None = None
    reply: re.Pattern[bytes] | None = None
    status: int | None = None  # only when both engines answered this status

    def covers(self, diff: Diff, case: Case, status: int | None = None) -> bool:
        if not fnmatch.fnmatchcase(diff.field, self.field):
            return False
        if self.status is not None and status != self.status:
            return False
        if self.request is not None and not self.request.search(case.data):
            return False
        return self.reply is None or bool(self.reply.search(case.reply))


def load_allowlist(path: Path = ALLOWLIST) -> list[Allowed]:
    entries = yaml.safe_load(path.read_text()) or []
    out = []
    for entry in entries:
        if not entry.get("reason"):
            raise ValueError(f"allow-list entry {entry.get('id')!r} has no reason")
        out.append(
            Allowed(
                id=entry["id"],
                field=entry["field"],
                reason=entry["reason"],
                request=re.compile(entry["request"].encode(), re.S) if "request" in entry else None,
                reply=re.compile(entry["reply"].encode(), re.S) if "reply" in entry else None,
                status=entry.get("status"),
            )
        )
    return out


def _fields(headers: tuple[tuple[bytes, bytes], ...]) -> list[tuple[bytes, bytes]]:
    named = [(n.lower(), b"<date>" if n.lower() == b"date" else v) for n, v in headers]
    return sorted(named, key=lambda item: item[0])  # stable: repeated fields keep their order


def normalise(observed: Observed) -> dict[str, Any]:
    """A flat ``{field path: value}`` view of one outcome."""
    out: dict[str, Any] = {
        "status": observed.client.status,
        "connection": observed.client.connection,
        "garbage": bool(observed.client.garbage),
        "responses": len(observed.client.responses),
        "upstream": len(observed.upstream),
    }
    # ``100 Continue`` is counted apart: RFC 9110 §10.1.1 lets a server skip it once
    # body bytes have arrived, so whether it is sent depends on timing.
    responses = [r for r in observed.client.responses if r.status != 100]
    out["continue"] = len(observed.client.responses) - len(responses)
    out["responses"] = len(responses)
    for i, response in enumerate(responses):
        prefix = f"response[{i}]"
        out[f"{prefix}.status"] = response.status
        out[f"{prefix}.reason"] = response.reason
        out[f"{prefix}.framing"] = response.framing
        out[f"{prefix}.body"] = response.body
        for name, value in _fields(response.headers):
            out.setdefault(f"{prefix}.header.{name.decode('latin-1')}", []).append(value)
    for i, forwarded in enumerate(observed.upstream):
        prefix = f"upstream[{i}]"
        out[f"{prefix}.line"] = forwarded.line
        out[f"{prefix}.body"] = forwarded.body
        out[f"{prefix}.framing"] = forwarded.framing
        out[f"{prefix}.unparsed"] = forwarded.unparsed
        for name, value in _fields(forwarded.headers):
            out.setdefault(f"{prefix}.header.{name.decode('latin-1')}", []).append(value)
    return out


def differences(
    case: Case, lean: Observed, aiohttp: Observed, allowlist: list[Allowed]
) -> tuple[list[Diff], list[tuple[Diff, Allowed]]]:
    """``(unexplained, allowed)`` differences between the two outcomes."""
    a, b = normalise(lean), normalise(aiohttp)
    status = a["status"] if a["status"] == b["status"] else None
    unexplained: list[Diff] = []
    allowed: list[tuple[Diff, Allowed]] = []
    for key in sorted(a.keys() | b.keys()):
        if a.get(key) == b.get(key):
            continue
        diff = Diff(key, a.get(key), b.get(key))
        entry = next((e for e in allowlist if e.covers(diff, case, status)), None)
        if entry is None:
            unexplained.append(diff)
        else:
            allowed.append((diff, entry))
    return unexplained, allowed

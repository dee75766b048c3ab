"""Reading a JSON document that must be a single object: a token's header or
payload (:mod:`.verify`), a discovery document or a JWKS (:mod:`.oidc`).

Written once so every reader refuses the same inputs, including the ones
``json.loads`` does not report as a ``ValueError``: nesting past the parser's
recursion limit raises ``RecursionError``, which an uncaught reader would let
escape as a crash instead of a refusal.  ``strict`` is for tokens, whose bytes an
attacker chooses: UTF-8 only (RFC 8259 §8.1), no duplicate member names (RFC 7519
§7.2: a claim must not be readable two ways) and no NaN or Infinity.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["json_object"]


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError("duplicate member")
        result[key] = value
    return result


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def json_object(raw: bytes, *, strict: bool = False) -> dict[str, Any]:
    """The object ``raw`` holds; a ``ValueError`` whose message completes
    "<what> is …" (``not valid JSON`` or ``not a JSON object``) otherwise, so each
    caller raises its own error type with its own subject."""
    try:
        if strict:
            value = json.loads(
                raw.decode("utf-8"),
                object_pairs_hook=_no_duplicates,
                parse_constant=_no_constants,
            )
        else:
            value = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ValueError("not valid JSON") from None
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value

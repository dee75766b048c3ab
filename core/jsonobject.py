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
from collections.abc import Callable
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


def json_object(
    raw: bytes,
    what: str,
    error: Callable[[str], Exception],
    *,
    strict: bool = False,
    max_bytes: int | None = None,
) -> dict[str, Any]:
    """The object ``raw`` holds, else ``error("<what> is …")`` raised: each caller
    names its document and its own exception type (a refused token, a failed
    discovery), and the sentences stay alike.  ``max_bytes`` refuses a larger
    ``raw`` before it is parsed."""
    if max_bytes is not None and len(raw) > max_bytes:
        raise error(f"{what} is larger than {max_bytes} bytes")
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
        raise error(f"{what} is not valid JSON") from None
    if not isinstance(value, dict):
        raise error(f"{what} is not a JSON object")
    return value

"""Environment-variable overrides for single config fields.

A variable named after a field's path overrides that field:
``AUTHGATE__OIDC__ISSUER=https://idp/realms/x`` sets ``oidc.issuer``; double
underscores separate levels and names are case-insensitive.  String fields take
the value verbatim (an empty value sets an optional field to ``null``); every
other type is JSON (``true``, ``30``, ``["a","b"]``) — a list of strings also
accepts one bare string.  Unknown names are errors, not silently ignored, so a
typo in a Deployment's ``env:`` is caught at startup.

Overrides are applied to a copy of the document *before* validation, so they
go through exactly the same checks, and any error names the variable.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import types
import typing
from collections.abc import Mapping
from typing import Any

from .config import ProxyConfig

__all__ = ["ENV_PREFIX", "apply_env_overrides"]

ENV_PREFIX = "AUTHGATE__"

if typing.TYPE_CHECKING:
    from .validation import ErrorList


def _strip_optional(tp: Any) -> tuple[Any, bool]:
    if typing.get_origin(tp) in (types.UnionType, typing.Union):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return args[0], True
    return tp, False


def _decode(raw: str, tp: Any) -> Any:
    """Turn the variable's text into a document value for a field of type ``tp``."""
    inner, optional = _strip_optional(tp)
    if inner is str:
        return None if (optional and raw == "") else raw
    if optional and raw.strip() in ("", "null"):
        return None
    if inner is bool:
        return json.loads(raw.strip().lower())
    if typing.get_origin(inner) is tuple and typing.get_args(inner)[0] is str:
        if not raw.lstrip().startswith("["):
            return raw  # one bare string, accepted as a one-element list
    return json.loads(raw)


def apply_env_overrides(
    document: Mapping[str, Any], env: Mapping[str, str], errors: ErrorList
) -> dict[str, Any]:
    """A deep copy of ``document`` with every ``AUTHGATE__…`` override applied."""
    from .validation import did_you_mean, field_types

    data: dict[str, Any] = copy.deepcopy(dict(document))
    for var in sorted(env):
        if not var.upper().startswith(ENV_PREFIX) or len(var) <= len(ENV_PREFIX):
            continue
        parts = [p.lower() for p in var[len(ENV_PREFIX) :].split("__")]
        cls: type = ProxyConfig
        node: Any = data
        path = ""
        for depth, part in enumerate(parts):
            hints = field_types(cls)
            path = f"{path}.{part}" if path else part
            if part not in hints:
                errors.add(f"env {var}", f"no setting {path!r}" + did_you_mean(part, hints))
                break
            tp = hints[part]
            last = depth == len(parts) - 1
            if not last:
                if not (dataclasses.is_dataclass(tp) and isinstance(tp, type)):
                    errors.add(f"env {var}", f"{path!r} has no sub-settings")
                    break
                child = node.get(part) if isinstance(node, dict) else None
                if child is None and isinstance(node, dict):
                    child = node[part] = {}
                if not isinstance(child, dict):
                    break  # the document's own type error is reported by validation
                node, cls = child, tp
                continue
            if dataclasses.is_dataclass(tp):
                errors.add(f"env {var}", f"{path!r} is a section; set its fields one by one")
                break
            try:
                value = _decode(env[var], tp)
            except ValueError:
                errors.add(f"env {var}", "not valid JSON for this setting")
                break
            if isinstance(node, dict):
                node[part] = value
                errors.from_env[path] = var
    return data

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
import json
from collections.abc import Mapping
from typing import Any

from .model import ProxyConfig
from .schema import ErrorList, FieldType, did_you_mean, settings

__all__ = ["ENV_PREFIX", "apply_env_overrides"]

ENV_PREFIX = "AUTHGATE__"


def _decode(raw: str, ft: FieldType) -> Any:
    """Turn the variable's text into a document value for a field of type ``ft``."""
    if ft.kind == "string":
        return None if (ft.optional and raw == "") else raw
    if ft.optional and raw.strip() in ("", "null"):
        return None
    if ft.kind == "boolean":
        return json.loads(raw.strip().lower())
    if ft.item is not None and ft.item.kind == "string":
        if not raw.lstrip().startswith("["):
            return raw  # one bare string, accepted as a one-element list
    return json.loads(raw)


def apply_env_overrides(
    document: Mapping[str, Any], env: Mapping[str, str], errors: ErrorList
) -> dict[str, Any]:
    """A deep copy of ``document`` with every ``AUTHGATE__…`` override applied."""
    data: dict[str, Any] = copy.deepcopy(dict(document))
    for var in sorted(env):
        if not var.upper().startswith(ENV_PREFIX) or len(var) <= len(ENV_PREFIX):
            continue
        parts = [p.lower() for p in var[len(ENV_PREFIX) :].split("__")]
        cls: type = ProxyConfig
        node: Any = data
        path = ""
        for depth, part in enumerate(parts):
            fields = settings(cls)
            path = f"{path}.{part}" if path else part
            if part not in fields:
                errors.add(f"env {var}", f"no setting {path!r}" + did_you_mean(part, fields))
                break
            ft = fields[part].type
            last = depth == len(parts) - 1
            if not last:
                if ft.section is None:
                    errors.add(f"env {var}", f"{path!r} has no sub-settings")
                    break
                child = node.get(part) if isinstance(node, dict) else None
                if child is None and isinstance(node, dict):
                    child = node[part] = {}
                if not isinstance(child, dict):
                    break  # the document's own type error is reported by validation
                node, cls = child, ft.section
                continue
            if ft.section is not None:
                errors.add(f"env {var}", f"{path!r} is a section; set its fields one by one")
                break
            try:
                value = _decode(env[var], ft)
            except ValueError:
                errors.add(f"env {var}", "not valid JSON for this setting")
                break
            if isinstance(node, dict):
                node[part] = value
                errors.from_env[path] = var
    return data

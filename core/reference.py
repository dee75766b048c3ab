"""Render the config reference (``docs/config.md``) from the dataclasses.

The documentation of every field lives next to the field (``metadata["doc"]``
in :mod:`authgate.core.config`); this module turns it into Markdown tables so
the reference cannot drift from the model.  ``python -m authgate.core.reference``
prints the tables; a test checks ``docs/config.md`` contains them verbatim.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from typing import Any

from .config import ProxyConfig
from .validation import field_types

__all__ = ["render_reference"]


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin in (types.UnionType, typing.Union):
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        return f"{_type_name(inner[0])} or null"
    if origin is tuple:
        return f"list of {_type_name(typing.get_args(tp)[0])}"
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return "mapping"
    return {str: "string", int: "integer", float: "number", bool: "boolean"}.get(tp, str(tp))


def _default(f: dataclasses.Field[Any]) -> str:
    if f.default is not dataclasses.MISSING:
        value: Any = f.default
    elif f.default_factory is not dataclasses.MISSING:
        value = f.default_factory()
    else:
        return "required"
    if dataclasses.is_dataclass(value):
        return "see below"
    if isinstance(value, tuple):
        value = list(value)
    text = json.dumps(value)
    return f"`{text}`"


def _section(cls: type, path: str, out: list[str]) -> None:
    hints = field_types(cls)
    nested: list[tuple[str, type]] = []
    out.append(f"### `{path}`" if path else "### top level")
    out.append("")
    doc = (cls.__doc__ or "").strip()
    if doc:
        out.append(doc)
        out.append("")
    out.append("| key | type | default | meaning |")
    out.append("|---|---|---|---|")
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        key = f"{path}.{f.name}" if path else f.name
        meaning = f.metadata.get("doc", "").replace("|", "\\|")
        out.append(f"| `{key}` | {_type_name(tp)} | {_default(f)} | {meaning} |")
        if dataclasses.is_dataclass(tp) and isinstance(tp, type):
            nested.append((key, tp))
        elif typing.get_origin(tp) is tuple:
            item = typing.get_args(tp)[0]
            if dataclasses.is_dataclass(item) and isinstance(item, type):
                nested.append((f"{key}[]", item))
    out.append("")
    for key, sub in nested:
        _section(sub, key, out)


def render_reference() -> str:
    """Markdown tables for every section of the config document."""
    out: list[str] = []
    _section(ProxyConfig, "", out)
    return "\n".join(out).rstrip() + "\n"


if __name__ == "__main__":  # pragma: no cover
    print(render_reference(), end="")

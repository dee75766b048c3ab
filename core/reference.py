"""Render the config reference (``docs/config.md``) from the dataclasses.

The documentation of every field lives next to the field (``metadata["doc"]``
in :mod:`authgate.core.config`); this module turns it into Markdown tables so
the reference cannot drift from the model.  ``python -m authgate.core.reference``
prints the tables; a test checks ``docs/config.md`` contains them verbatim.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from .config import FieldType, ProxyConfig, Setting, settings

__all__ = ["render_reference"]


def _type_name(ft: FieldType) -> str:
    if ft.section is not None:
        name = "mapping"
    elif ft.item is not None:
        name = f"list of {_type_name(ft.item)}"
    else:
        name = ft.kind  # boolean, integer, number, string
    return f"{name} or null" if ft.optional else name


def _meaning(item: Setting) -> str:
    """The field's documentation, and its bounds in the words validation uses."""
    text = item.doc
    if item.bounds is not None:
        text = f"{text}; {item.bounds.describe()}" if text else item.bounds.describe()
    return text.replace("|", "\\|")


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
    nested: list[tuple[str, type]] = []
    out.append(f"### `{path}`" if path else "### top level")
    out.append("")
    doc = (cls.__doc__ or "").strip()
    if doc:
        out.append(doc)
        out.append("")
    out.append("| key | type | default | meaning |")
    out.append("|---|---|---|---|")
    for name, item in settings(cls).items():
        ft = item.type
        key = f"{path}.{name}" if path else name
        out.append(f"| `{key}` | {_type_name(ft)} | {_default(item.field)} | {_meaning(item)} |")
        if ft.section is not None:
            nested.append((key, ft.section))
        elif ft.item is not None and ft.item.section is not None:
            nested.append((f"{key}[]", ft.item.section))
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

"""The schema of the config document: one walk over the dataclasses' type hints.

Four things read the config model: validation, environment overrides, the
reference generator (``docs/config.md``) and the operator's CRD generator.  They
used to walk the type hints four times, each unwrapping ``Optional`` and tuples
its own way, and the bounds (leeway 0 to 600, token size, the header-name pattern)
were written once in validation and again in the CRD.  This module is the one
place for both:

* :func:`field_type` reduces an annotation to a :class:`FieldType` (a JSON-schema
  kind, optional or not, the item type of a list, the dataclass of a section);
* :func:`settings` lists a dataclass's fields as :class:`Setting` rows (name,
  type, documentation, default, :class:`Bounds`);
* :class:`Bounds` are declared on the field itself (``_doc(60.0, "…",
  minimum=0, maximum=600)`` in :mod:`.model`) and read by validation
  (:func:`check_bounds`), the CRD (:func:`bounds_schema`) and the reference
  (:func:`Bounds.describe`);
* :class:`ErrorList` and :func:`did_you_mean` are the shared error reporting.

Nothing here knows a particular field; it imports nothing from the package.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

# What authgate.core.config re-exports.  check_bounds, describe_value and setting
# are helpers of the sibling modules (validation, the models), imported by name.
__all__ = [
    "HEADER_NAME_PATTERN",
    "Bounds",
    "ErrorList",
    "FieldType",
    "Setting",
    "bounds_schema",
    "did_you_mean",
    "field_type",
    "field_types",
    "settings",
]

#: RFC 9110 §5.6.2 ``token``: the syntax of an HTTP field (header) name.
HEADER_NAME_PATTERN = r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$"

Kind = Literal["boolean", "integer", "number", "string", "array", "object"]
_SIMPLE: dict[Any, Kind] = {bool: "boolean", int: "integer", float: "number", str: "string"}


@dataclass(frozen=True, slots=True)
class Bounds:
    """What a value must satisfy beyond its type, declared once on the field.

    Numbers: ``minimum``/``maximum`` (inclusive; ``exclusive_minimum`` makes the
    minimum itself invalid, "must be positive").  Strings, and every item of a
    list of strings: ``pattern`` (a regular expression, named ``pattern_name`` in
    messages) and ``choices``.
    """

    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    pattern: str | None = None
    pattern_name: str = "value"
    choices: tuple[str, ...] = ()

    def describe(self) -> str:
        """The range or rule in words, as validation reports it and the reference shows it."""
        lo, hi = self.minimum, self.maximum
        if lo is not None and hi is not None:
            return f"must be between {_num(lo)} and {_num(hi)}"
        if lo is not None:
            if self.exclusive_minimum:
                return "must be positive" if lo == 0 else f"must be greater than {_num(lo)}"
            return "must not be negative" if lo == 0 else f"must be at least {_num(lo)}"
        if hi is not None:
            return f"must be at most {_num(hi)}"
        if self.choices:
            return f"must be one of {', '.join(self.choices)}"
        if self.pattern:
            return f"must be a valid {self.pattern_name}"
        return ""

    def in_range(self, value: float) -> bool:
        lo, hi = self.minimum, self.maximum
        if lo is not None and (value <= lo if self.exclusive_minimum else value < lo):
            return False
        return hi is None or value <= hi


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)


def setting(default: Any, doc: str, **bounds: Any) -> Any:
    """A dataclass field with a default, its documentation and its :class:`Bounds`."""
    metadata: dict[str, Any] = {"doc": doc}
    if bounds:
        metadata["bounds"] = Bounds(**bounds)
    return field(default=default, metadata=metadata)


@dataclass(frozen=True, slots=True)
class FieldType:
    """A config annotation reduced to what every reader needs."""

    kind: Kind
    optional: bool = False
    item: FieldType | None = None  # the item type of an "array"
    section: type | None = None  # the dataclass of an "object"

    @property
    def is_section(self) -> bool:
        return self.kind == "object"


@dataclass(frozen=True, slots=True)
class Setting:
    """One field of a config dataclass, as the schema sees it."""

    name: str
    type: FieldType
    field: dataclasses.Field[Any]
    bounds: Bounds | None

    @property
    def doc(self) -> str:
        doc: str = self.field.metadata.get("doc", "")
        return doc


def field_type(tp: Any) -> FieldType:
    """Reduce ``tp`` (``str``, ``int | None``, ``tuple[str, ...]``, a dataclass…)."""
    optional = False
    if typing.get_origin(tp) in (types.UnionType, typing.Union):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) != 1:
            raise TypeError(f"unsupported config annotation {tp!r}")  # a bug in the model
        tp, optional = args[0], True
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return FieldType("object", optional, section=tp)
    if typing.get_origin(tp) is tuple:
        return FieldType("array", optional, item=field_type(typing.get_args(tp)[0]))
    if tp in _SIMPLE:
        return FieldType(_SIMPLE[tp], optional)
    raise TypeError(f"unsupported config annotation {tp!r}")  # a bug in the model


_SETTINGS: dict[type, dict[str, Setting]] = {}


def settings(cls: type) -> dict[str, Setting]:
    """The fields of config dataclass ``cls``, by name, in declaration order."""
    found = _SETTINGS.get(cls)
    if found is None:
        hints = typing.get_type_hints(cls)
        found = {
            f.name: Setting(f.name, field_type(hints[f.name]), f, f.metadata.get("bounds"))
            for f in dataclasses.fields(cls)
        }
        _SETTINGS[cls] = found
    return found


def field_types(cls: type) -> dict[str, Any]:
    """Resolved type hints of a config dataclass, by field name, in order."""
    hints = typing.get_type_hints(cls)
    return {name: hints[name] for name in settings(cls)}


class ErrorList:
    """Collects ``"<path>: <message>"`` strings; remembers which paths already
    failed their type check (so meaning checks don't pile on) and which paths
    came from environment variables (so the message names the variable)."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self.bad: set[str] = set()
        self.from_env: dict[str, str] = {}

    def add(self, path: str, message: str) -> None:
        origin = self.from_env.get(path)
        suffix = f" (from {origin})" if origin else ""
        self.items.append(f"{path or '<document>'}: {message}{suffix}")

    def type_error(self, path: str, message: str) -> None:
        self.bad.add(path)
        self.add(path, message)

    def check(self, ok: bool, path: str, message: str) -> None:
        if not ok and path not in self.bad:
            self.add(path, message)


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest choice, or ``""``."""
    options = list(choices)
    lowered = {c.lower(): c for c in options}
    if word.lower() in lowered:
        return f" (did you mean '{lowered[word.lower()]}'?)"
    match = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return f" (did you mean '{match[0]}'?)" if match else ""


def describe_value(value: object) -> str:
    """``a string``, ``an integer``… for type errors."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return type(value).__name__


def _check_text(text: str, bounds: Bounds, path: str, errors: ErrorList) -> None:
    if bounds.choices and text not in bounds.choices:
        errors.check(False, path, bounds.describe() + did_you_mean(text, bounds.choices))
    if bounds.pattern and not re.match(bounds.pattern, text):
        errors.check(False, path, f"not a valid {bounds.pattern_name}: {text!r}")


def check_bounds(value: Any, bounds: Bounds, path: str, errors: ErrorList) -> None:
    """Record an error when ``value`` (already of the field's type) breaks ``bounds``."""
    if value is None or path in errors.bad:
        return
    if isinstance(value, int | float) and not isinstance(value, bool):
        errors.check(bounds.in_range(value), path, bounds.describe())
    elif isinstance(value, str):
        _check_text(value, bounds, path, errors)
    elif isinstance(value, tuple):
        for i, item in enumerate(value):
            if isinstance(item, str):
                _check_text(item, bounds, f"{path}[{i}]", errors)


def bounds_schema(bounds: Bounds | None, kind: FieldType) -> dict[str, Any]:
    """The OpenAPI v3 keywords (Kubernetes structural schema) for ``bounds``."""
    if bounds is None:
        return {}
    out: dict[str, Any] = {}
    if bounds.minimum is not None:
        out["minimum"] = bounds.minimum
        if bounds.exclusive_minimum:
            out["exclusiveMinimum"] = True
    if bounds.maximum is not None:
        out["maximum"] = bounds.maximum
    text: dict[str, Any] = {}
    if bounds.pattern:
        text["pattern"] = bounds.pattern
    if bounds.choices:
        text["enum"] = list(bounds.choices)
    if kind.kind == "array":
        return {**out, "items": text} if text else out
    return {**out, **text}

"""Reading the config document: from a mapping, from a YAML file, and back."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import yaml

from ..errors import ConfigError
from .model import ProxyConfig
from .validation import to_document, validate_document

__all__ = ["config_to_document", "load_config", "parse_config"]


def parse_config(document: Mapping[str, Any], env: Mapping[str, str] | None = None) -> ProxyConfig:
    """Validate ``document`` (with ``AUTHGATE__…`` overrides from ``env``) into a
    :class:`ProxyConfig`, or raise one :class:`ConfigError` listing every problem.

    ``env`` defaults to no overrides; pass ``os.environ`` to honour the process
    environment.
    """
    return validate_document(document, env or {})


def load_config(path: str | os.PathLike[str], env: Mapping[str, str] | None = None) -> ProxyConfig:
    """Read a YAML file and :func:`parse_config` it.  I/O and YAML syntax
    problems are reported as :class:`ConfigError` too."""
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as exc:
        raise ConfigError([f"{os.fspath(path)}: cannot read: {exc.strerror or exc}"]) from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError([f"{os.fspath(path)}: {problem}{where}"]) from None
    if document is None:
        document = {}
    if not isinstance(document, Mapping):
        raise ConfigError([f"{os.fspath(path)}: the document must be a mapping"])
    return parse_config(document, env)


def config_to_document(config: ProxyConfig) -> dict[str, Any]:
    """The YAML-ready document for ``config``; ``parse_config`` of it gives back
    an equal :class:`ProxyConfig`.  Used by the operator to render ConfigMaps."""
    document: dict[str, Any] = to_document(config)
    return document

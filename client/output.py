"""What the CLI prints: human tables on stdout, JSON for scripts, chatter on stderr.

Stdout carries only the command's result (a table, JSON, or the raw token), so
``authgate token`` and ``--output json`` pipe cleanly; prompts, progress and
warnings go to stderr.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

import click

FORMATS = ("table", "json")


def key_value_table(rows: Sequence[tuple[str, str]]) -> str:
    """Two aligned columns: ``Label:  value``."""
    if not rows:
        return ""
    width = max(len(label) for label, _ in rows) + 1
    return "\n".join(f"{label + ':':<{width}}  {value}" for label, value in rows)


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A column table in the style of ``kubectl get``."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    lines = [
        "   ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
        for line in [list(headers), *[list(r) for r in rows]]
    ]
    return "\n".join(lines)


def emit(data: Mapping[str, Any], fmt: str, human: str) -> None:
    """Print the result: ``human`` text, or ``data`` as JSON."""
    if fmt == "json":
        click.echo(json.dumps(data, indent=2, sort_keys=False, default=str))
    elif human:
        click.echo(human)


class Console:
    """Messages for the person at the terminal, on stderr."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr

    @property
    def interactive(self) -> bool:
        isatty = getattr(self.stream, "isatty", None)
        return bool(isatty and isatty())

    def info(self, text: str) -> None:
        click.echo(text, file=self.stream)

    def warn(self, text: str) -> None:
        click.echo(
            click.style("warning: ", fg="yellow", bold=True) + text,
            file=self.stream,
            color=self.interactive or None,
        )

    def error(self, text: str, hint: str | None = None) -> None:
        click.echo(
            click.style("error: ", fg="red", bold=True) + text,
            file=self.stream,
            color=self.interactive or None,
        )
        if hint:
            click.echo(f"  {hint}", file=self.stream)

    def write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()

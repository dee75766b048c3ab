"""The data-path engines every proxy-facing suite runs against.

Both are part of every install (httptools is a hard dependency, so the lean engine is
always importable); a suite parametrized over :data:`ENGINES` runs once per engine.
"""

from __future__ import annotations

__all__ = ["ENGINES"]

#: ``server.engine`` values other than ``auto``, in the order the suites run them.
ENGINES: tuple[str, ...] = ("aiohttp", "lean")

"""Fixtures for the core tests (defined in core_helpers, re-exported here)."""

from .core_helpers import idp, keys, wall_clock

__all__ = ["idp", "keys", "wall_clock"]

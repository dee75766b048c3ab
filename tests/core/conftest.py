"""Fixtures for the core tests (defined in core_helpers and session_world, re-exported here).

session_world's helpers assert along the login they drive; registering it for
assertion rewriting keeps the detailed failure messages they had as test code."""

import pytest

pytest.register_assert_rewrite("tests.core.session_world")

from .core_helpers import idp, keys, wall_clock  # noqa: E402
from .session_world import world  # noqa: E402

__all__ = ["idp", "keys", "wall_clock", "world"]

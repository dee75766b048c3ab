"""What a test does when a component of the test environment is missing.

The project's rule (DEVELOPERS.md, docs/testenv.md): outside CI a missing
component skips its tests, so a laptop without Keycloak can still run the
rest; under ``CI=true`` it fails them, because a skipped integration test is
an untested feature. Every suite calls this one function, so the rule and its
message exist once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NoReturn, TypeVar

import pytest

from .components import in_ci
from .errors import ComponentMissing

T = TypeVar("T")

#: The prefix of every failure for a missing component under CI=true (tests match it).
CI_MISSING = "CI=true and a test-environment component is missing"


def unavailable(reason: str) -> NoReturn:
    """Skip outside CI; fail (never skip) under CI=true."""
    if in_ci():
        pytest.fail(f"{CI_MISSING}: {reason}", pytrace=False)
    pytest.skip(reason)


def require(find: Callable[[], T]) -> T:
    """``find()``'s result, or :func:`unavailable` with its ComponentMissing reason."""
    try:
        return find()
    except ComponentMissing as exc:
        unavailable(str(exc))

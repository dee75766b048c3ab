"""Exception types of the test environment.

A component that cannot be found is a different situation from one that was
found but would not start: the first may skip outside CI, the second is
always a failure and must carry the component's log so the reader does not
have to go hunting for it.
"""

from __future__ import annotations


class TestEnvError(Exception):
    """Base class for every test-environment failure."""

    __test__ = False  # not a pytest test class, despite the name


class ComponentMissing(TestEnvError):
    """A binary or cached artefact is not installed (run `make testenv`)."""


class ComponentFailed(TestEnvError):
    """A component was found but failed to start or to become ready."""

    def __init__(self, message: str, log_tail: str = "") -> None:
        self.log_tail = log_tail
        text = message if not log_tail else f"{message}\n--- log tail ---\n{log_tail}"
        super().__init__(text)

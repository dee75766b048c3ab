"""The hand-written corpus on both engines: no unexplained difference, no RFC violation."""

from __future__ import annotations

import pytest

from .conftest import EnginePair
from .corpus import CORPUS

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_corpus_case(engines: EnginePair, name: str) -> None:
    problems = engines.verify(CORPUS[name])
    assert not problems, "\n".join(problems)

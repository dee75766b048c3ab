"""Generated requests on both engines: no unexplained difference, no RFC violation.

The default run is bounded and reproducible: ``AUTHGATE_CONFORMANCE_EXAMPLES``
examples (default 1500), derandomized, no example database.  ``make
conformance-deep`` raises the count, draws a fresh random seed
(``AUTHGATE_CONFORMANCE_SEED`` replays one) and prints the figures.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, seed, settings

from .cases import Case
from .conftest import EnginePair
from .strategies import cases

pytestmark = pytest.mark.integration

EXAMPLES = int(os.environ.get("AUTHGATE_CONFORMANCE_EXAMPLES", "1500"))
SEED = os.environ.get("AUTHGATE_CONFORMANCE_SEED")
DEEP = os.environ.get("AUTHGATE_CONFORMANCE_DEEP") == "1"


def _settings(test: object) -> object:
    configured = settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=not DEEP and SEED is None,
        database=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.function_scoped_fixture,
            HealthCheck.filter_too_much,
            HealthCheck.data_too_large,
        ],
        print_blob=True,
    )(test)
    return seed(int(SEED))(configured) if SEED is not None else configured


@pytest.mark.timeout(3600)
@_settings
@given(case=cases())
def test_generated_case(engines: EnginePair, case: Case) -> None:
    problems = engines.verify(case)
    assert not problems, repr(case.data) + "\n" + "\n".join(problems)

from __future__ import annotations

from datetime import UTC, datetime

from authgate.operator.status import Check, Observation, build_status, condition, transitions

T0 = datetime(2026, 1, 1, tzinfo=UTC)
T1 = datetime(2026, 1, 1, 0, 5, tzinfo=UTC)


def _obs(discovery_ok: bool, config_ok: bool = True, generation: int = 1) -> Observation:
    return Observation(
        generation=generation,
        discovery=Check(discovery_ok, "Fetched" if discovery_ok else "IssuerUnreachable", "m"),
        config=Check(config_ok, "Rendered" if config_ok else "InvalidSpec", "c"),
        signing_keys=2 if discovery_ok else 0,
    )


def test_ready_reason_is_the_first_failing_check() -> None:
    status = build_status(None, _obs(False), T0)
    ready = condition(status["conditions"], "Ready")
    assert ready["status"] == "False" and ready["reason"] == "IssuerUnreachable"
    status = build_status(None, _obs(False, config_ok=False), T0)
    assert condition(status["conditions"], "Ready")["reason"] == "InvalidSpec"
    types = [c["type"] for c in status["conditions"]]
    assert types == ["Ready", "DiscoveryFetched", "ConfigRendered"]


def test_transition_time_moves_only_when_status_flips() -> None:
    first = build_status(None, _obs(True), T0)
    same = build_status(first, _obs(True, generation=2), T1)
    ready = condition(same["conditions"], "Ready")
    assert ready["lastTransitionTime"] == "2026-01-01T00:00:00Z"
    assert ready["observedGeneration"] == 2
    assert transitions(first, same) == []
    flipped = build_status(same, _obs(False), T1)
    assert condition(flipped["conditions"], "Ready")["lastTransitionTime"] == "2026-01-01T00:05:00Z"
    changed = [t for t, _ in transitions(same, flipped)]
    assert changed == ["Ready", "DiscoveryFetched"]

"""The OIDCProvider status: conditions in the Kubernetes convention.

Three conditions, each with ``reason``, ``message``, ``observedGeneration`` and
``lastTransitionTime`` (which moves only when ``status`` changes, as
``kubectl wait --for=condition=Ready`` and humans expect):

* ``DiscoveryFetched`` — the issuer's discovery document and JWKS were fetched
  and the JWKS holds at least one usable signing key;
* ``ConfigRendered`` — the spec rendered into a valid proxy config and the
  ConfigMap is written;
* ``Ready`` — both of the above; its reason is the first failing one's, so the
  printer column ``Reason`` says *why* a provider is not ready.

Everything here is pure: the reconciler computes a new status from the old
one and an :class:`Observation`, and :func:`transitions` tells the event
emitter what changed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "CONFIG_RENDERED",
    "DISCOVERY_FETCHED",
    "READY",
    "Check",
    "Observation",
    "build_status",
    "condition",
    "now_iso",
    "set_condition",
    "transitions",
]

READY = "Ready"
DISCOVERY_FETCHED = "DiscoveryFetched"
CONFIG_RENDERED = "ConfigRendered"
_MAX_MESSAGE = 4000


def now_iso(now: datetime | None = None) -> str:
    """RFC 3339 timestamp in UTC, second precision (what the API server stores)."""
    return (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class Check:
    """Outcome of one step: ``ok`` with a CamelCase ``reason`` and a message."""

    ok: bool
    reason: str
    message: str


@dataclass(frozen=True, slots=True)
class Observation:
    """What one reconcile saw."""

    generation: int
    discovery: Check
    config: Check
    endpoints: Mapping[str, str] = field(default_factory=dict)
    signing_keys: int = 0
    config_map: str | None = None
    config_hash: str | None = None

    @property
    def ready(self) -> Check:
        for check in (self.config, self.discovery):
            if not check.ok:
                return check
        return Check(True, "Ready", "discovery fetched, signing keys present, config rendered")


def condition(conditions: Sequence[Mapping[str, Any]], type_: str) -> Mapping[str, Any] | None:
    """The condition of type ``type_``, if present."""
    for cond in conditions:
        if cond.get("type") == type_:
            return cond
    return None


def set_condition(
    conditions: Sequence[Mapping[str, Any]],
    type_: str,
    check: Check,
    generation: int,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """``conditions`` with ``type_`` set from ``check``; ``lastTransitionTime`` is kept
    unless the status flips."""
    status = "True" if check.ok else "False"
    previous = condition(conditions, type_)
    changed = previous is None or previous.get("status") != status
    transition = (
        now_iso(now)
        if changed or previous is None
        else previous.get("lastTransitionTime", now_iso(now))
    )
    new = {
        "type": type_,
        "status": status,
        "reason": check.reason,
        "message": check.message[:_MAX_MESSAGE],
        "observedGeneration": generation,
        "lastTransitionTime": transition,
    }
    out = [dict(c) for c in conditions if c.get("type") != type_]
    out.append(new)
    order = {READY: 0, DISCOVERY_FETCHED: 1, CONFIG_RENDERED: 2}
    out.sort(key=lambda c: order.get(str(c.get("type")), 99))
    return out


def build_status(
    old: Mapping[str, Any] | None, obs: Observation, now: datetime | None = None
) -> dict[str, Any]:
    """The full new ``status`` from the previous one and an observation."""
    conditions: list[dict[str, Any]] = list((old or {}).get("conditions") or [])
    conditions = set_condition(conditions, DISCOVERY_FETCHED, obs.discovery, obs.generation, now)
    conditions = set_condition(conditions, CONFIG_RENDERED, obs.config, obs.generation, now)
    conditions = set_condition(conditions, READY, obs.ready, obs.generation, now)
    status: dict[str, Any] = {
        "observedGeneration": obs.generation,
        "conditions": conditions,
        "endpoints": dict(obs.endpoints),
        "signingKeys": obs.signing_keys,
        "lastChecked": now_iso(now),
    }
    if obs.config_map:
        status["configMap"] = obs.config_map
    if obs.config_hash:
        status["configHash"] = obs.config_hash
    return status


def transitions(
    old: Mapping[str, Any] | None, new: Mapping[str, Any]
) -> list[tuple[str, Mapping[str, Any]]]:
    """Conditions whose status or reason changed: ``[(type, new_condition), …]``."""
    old_conditions = (old or {}).get("conditions") or []
    out = []
    for cond in new.get("conditions") or []:
        before = condition(old_conditions, cond["type"])
        if before is None or (before.get("status"), before.get("reason")) != (
            cond.get("status"),
            cond.get("reason"),
        ):
            out.append((str(cond["type"]), cond))
    return out

"""Kubernetes Events for status transitions.

Events are for humans running ``kubectl describe oidcprovider``: one per
condition that changed status or reason (not one per reconcile, so a provider
re-checked every 30 s does not flood the event log), ``Normal`` when a
condition became true and ``Warning`` when it became false.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import kopf

from .status import transitions

__all__ = ["emit_transitions", "event_for"]


def event_for(type_: str, cond: Mapping[str, Any]) -> tuple[str, str, str]:
    """``(event type, reason, message)`` for a condition that changed."""
    ok = cond.get("status") == "True"
    message = f"{type_} is {cond.get('status')}: {cond.get('message', '')}"
    return ("Normal" if ok else "Warning", str(cond.get("reason") or type_), message[:1024])


def emit_transitions(
    body: Mapping[str, Any], old: Mapping[str, Any] | None, new: Mapping[str, Any]
) -> int:
    """Post an Event per changed condition; returns how many were posted."""
    posted = 0
    for type_, cond in transitions(old, new):
        event_type, reason, message = event_for(type_, cond)
        kopf.event(body, type=event_type, reason=reason, message=message)  # type: ignore[arg-type]
        posted += 1
    return posted

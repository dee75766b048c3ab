"""The token side of an OAuth device authorization grant (RFC 8628), for smoke tests.

The Keycloak and proxy smoke suites both start a device flow, have the test user
approve it, then poll the token endpoint; the grant request and the bounded poll
are written once here.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import httpx

__all__ = ["DEVICE_GRANT", "device_token_response", "poll_device_token"]

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def device_token_response(
    http: httpx.Client, token_endpoint: str, client_id: str, device_code: str
) -> httpx.Response:
    """One device-code token request (RFC 8628 section 3.4)."""
    return http.post(
        token_endpoint,
        data={"grant_type": DEVICE_GRANT, "client_id": client_id, "device_code": device_code},
    )


def poll_device_token(
    http: httpx.Client,
    token_endpoint: str,
    client_id: str,
    start: Mapping[str, Any],
    attempts: int = 20,
) -> str | None:
    """Poll at the announced interval (at least 1 s) until the token comes; ``None`` after
    ``attempts`` polls.  Any error but ``authorization_pending``/``slow_down`` fails."""
    for _ in range(attempts):
        response = device_token_response(http, token_endpoint, client_id, start["device_code"])
        if response.status_code == 200:
            return str(response.json()["access_token"])
        assert response.json()["error"] in {"authorization_pending", "slow_down"}
        time.sleep(max(1, int(start.get("interval", 1))))
    return None

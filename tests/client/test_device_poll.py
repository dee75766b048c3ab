"""The RFC 8628 polling state machine, with the IdP's answers scripted.

Keycloak (tests/client/test_cli_keycloak.py) drives the real flow; here the
answers Keycloak will not produce on demand (slow_down, a missing interval)
are scripted through httpx's in-process transport, with a virtual clock so the
test does not sleep.
"""

from __future__ import annotations

import json

import httpx
import pytest

from authgate.client.device_flow import DeviceAuthorization, poll
from authgate.client.errors import AccessDenied, DeviceCodeExpired, LoginRejected


class VirtualClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def scripted(
    answers: list[tuple[int, dict[str, object]]], clock: VirtualClock, polls: list[float]
) -> httpx.Client:
    def handler(request: httpx.Request) -> httpx.Response:
        form = dict(x.split("=", 1) for x in request.content.decode().split("&"))
        assert form["grant_type"] == "urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code"
        polls.append(clock.now)
        status, body = answers.pop(0)
        return httpx.Response(
            status, content=json.dumps(body).encode(), headers={"content-type": "application/json"}
        )

    return httpx.Client(transport=httpx.MockTransport(handler))


AUTH = DeviceAuthorization(
    device_code="dc",
    user_code="ABCD-EFGH",
    verification_uri="https://idp/device",
    verification_uri_complete=None,
    expires_in=120,
    interval=5,
)


def run(answers: list[tuple[int, dict[str, object]]]) -> tuple[object, list[float]]:
    clock, polls = VirtualClock(), []
    with scripted(answers, clock, polls) as http:
        try:
            result: object = poll(
                http, "https://idp/token", "cli", AUTH, sleep=clock.sleep, clock=clock
            )
        except LoginRejected as exc:
            result = exc
    return result, polls


def test_pending_then_slow_down_then_success_honours_intervals() -> None:
    result, polls = run(
        [
            (400, {"error": "authorization_pending"}),
            (400, {"error": "slow_down"}),
            (400, {"error": "authorization_pending"}),
            (200, {"access_token": "t", "expires_in": 60}),
        ]
    )
    assert result == {"access_token": "t", "expires_in": 60}
    gaps = [round(b - a, 3) for a, b in zip([0.0, *polls], polls, strict=False)]
    assert gaps == [5.0, 5.0, 10.0, 10.0]  # slow_down adds 5 s for every later poll


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        ("access_denied", AccessDenied),
        ("expired_token", DeviceCodeExpired),
        ("invalid_client", LoginRejected),
    ],
)
def test_terminal_errors(error: str, kind: type[Exception]) -> None:
    result, _ = run([(400, {"error": error})])
    assert type(result) is kind


def test_local_deadline_bounds_the_loop() -> None:
    result, polls = run([(400, {"error": "authorization_pending"})] * 100)
    assert isinstance(result, DeviceCodeExpired)
    assert len(polls) == 23  # 120 s / 5 s, minus the final wait that reaches the deadline

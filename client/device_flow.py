"""Interactive login with the OAuth 2.0 Device Authorization Grant (RFC 8628).

The CLI asks the IdP for a device code (§3.1-3.2), shows the user the
verification URI and user code (and ``verification_uri_complete`` when given,
§3.3.1), opens a browser when there is a display, then polls the token
endpoint (§3.4) while showing a live indicator. Polling honours ``interval``
and adds 5 s on ``slow_down``; ``authorization_pending`` keeps waiting;
``access_denied`` and ``expired_token`` (§3.5) end with their own messages and
exit codes. The loop is bounded by the code's ``expires_in``.
"""

from __future__ import annotations

import itertools
import os
import sys
import time
import webbrowser
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from authgate.client.clock import human_duration
from authgate.client.errors import (
    AccessDenied,
    DeviceCodeExpired,
    LoginRejected,
    UsageError,
    command,
)
from authgate.client.oauth import OAuthError, post_form, rejected, token_request
from authgate.client.output import Console

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
DEFAULT_INTERVAL = 5.0  # RFC 8628 §3.2: when the IdP omits interval
SLOW_DOWN_STEP = 5.0  # RFC 8628 §3.5
DEFAULT_EXPIRES_IN = 600.0
TICK = 0.2


@dataclass(frozen=True)
class DeviceAuthorization:
    device_code: str
    user_code: str
    verification_uri: str
    verification_uri_complete: str | None
    expires_in: float
    interval: float

    @classmethod
    def from_response(cls, body: dict[str, Any]) -> DeviceAuthorization:
        uri = body.get("verification_uri") or body.get("verification_url")  # Google spells url
        for key, value in (
            ("device_code", body.get("device_code")),
            ("user_code", body.get("user_code")),
            ("verification_uri", uri),
        ):
            if not isinstance(value, str) or not value:
                raise LoginRejected(
                    f"the identity provider's device authorization answer lacks {key}"
                )
        complete = body.get("verification_uri_complete")
        return cls(
            device_code=str(body["device_code"]),
            user_code=str(body["user_code"]),
            verification_uri=str(uri),
            verification_uri_complete=complete if isinstance(complete, str) else None,
            expires_in=_positive(body.get("expires_in"), DEFAULT_EXPIRES_IN),
            interval=_positive(body.get("interval"), DEFAULT_INTERVAL),
        )


def _positive(value: Any, default: float) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    return default


def start(
    http: httpx.Client,
    endpoint: str | None,
    client_id: str,
    scope: str,
    extra: Mapping[str, str] | None = None,
) -> DeviceAuthorization:
    """Device Authorization Request (RFC 8628 §3.1)."""
    if not endpoint:
        raise UsageError(
            "this platform's identity provider offers no device login",
            hint="log in with --username (password grant) instead",
        )
    form = {"client_id": client_id, **(extra or {})}
    if scope:
        form["scope"] = scope
    try:
        body = post_form(http, endpoint, form)
    except OAuthError as exc:
        raise rejected(exc) from None
    return DeviceAuthorization.from_response(body)


def can_open_browser() -> bool:
    if sys.platform.startswith("linux") or "bsd" in sys.platform:
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def show_instructions(console: Console, auth: DeviceAuthorization, open_browser: bool) -> None:
    console.info(f"To log in, open {auth.verification_uri} and enter the code: {auth.user_code}")
    if auth.verification_uri_complete:
        console.info(f"Or open this link, which carries the code: {auth.verification_uri_complete}")
    if open_browser and can_open_browser():
        target = auth.verification_uri_complete or auth.verification_uri
        try:
            opened = webbrowser.open(target, new=2)
        except webbrowser.Error:
            opened = False
        if opened:
            console.info("Opened your browser.")


class WaitIndicator:
    """A spinner with the time left on a terminal; one plain line otherwise."""

    def __init__(self, console: Console, expires_in: float) -> None:
        self.console = console
        self.frames = itertools.cycle("|/-\\")
        self.live = console.interactive
        if not self.live:
            console.info(
                f"Waiting for you to finish in the browser "
                f"(the code expires in {human_duration(expires_in)})..."
            )

    def update(self, remaining: float) -> None:
        if self.live:
            self.console.write(
                f"\r{next(self.frames)} Waiting for you to finish in the browser "
                f"({human_duration(max(remaining, 0))} left)   "
            )

    def close(self) -> None:
        if self.live:
            self.console.write("\r" + " " * 70 + "\r")


def poll(
    http: httpx.Client,
    token_endpoint: str,
    client_id: str,
    auth: DeviceAuthorization,
    *,
    on_wait: Callable[[float], None] = lambda _: None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    extra: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Poll the token endpoint (RFC 8628 §3.4-3.5) until the user finishes; bounded."""
    deadline = clock() + auth.expires_in
    interval = auth.interval
    form = {
        "grant_type": DEVICE_GRANT,
        "device_code": auth.device_code,
        "client_id": client_id,
        **(extra or {}),
    }
    expired = DeviceCodeExpired(
        "the device code expired before the login was completed",
        hint=f"run {command('login')} again and finish in the browser sooner",
        error="expired_token",
    )
    while True:
        wake = min(clock() + interval, deadline)
        while (now := clock()) < wake:
            on_wait(deadline - now)
            sleep(min(TICK, wake - now))
        if clock() >= deadline:
            raise expired
        try:
            body: dict[str, Any] = token_request(http, token_endpoint, form)
            return body
        except OAuthError as exc:
            if exc.error == "authorization_pending":
                continue
            if exc.error == "slow_down":
                interval += SLOW_DOWN_STEP
                continue
            if exc.error == "access_denied":
                raise AccessDenied(
                    "the login was denied in the browser",
                    hint=f"run {command('login')} again if that was a mistake",
                    error=exc.error,
                ) from None
            if exc.error == "expired_token":
                raise expired from None
            raise rejected(exc) from None


def device_login(
    http: httpx.Client,
    console: Console,
    *,
    device_endpoint: str | None,
    token_endpoint: str,
    client_id: str,
    scope: str,
    open_browser: bool,
    extra: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The whole device flow, from request to token response (``extra``: the
    resource/audience parameters the platform's discovery document asks for)."""
    auth = start(http, device_endpoint, client_id, scope, extra)
    show_instructions(console, auth, open_browser)
    indicator = WaitIndicator(console, auth.expires_in)
    try:
        return poll(http, token_endpoint, client_id, auth, on_wait=indicator.update, extra=extra)
    finally:
        indicator.close()

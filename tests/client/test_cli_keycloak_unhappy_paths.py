"""The CLI against the real proxy and Keycloak when things go wrong.

Bad input, an untrusted certificate, an expired device code, Keycloak down, Ctrl-C,
a skewed clock, a login denied in the browser, a session ended in Keycloak: one
clear line, a documented exit code, never a traceback.
"""

from __future__ import annotations

import os
import signal
import ssl
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from .client_harness import Cli, assert_clean_failure
from .keycloak_cli import (
    LINK,
    device_login,
    echo,
    login,
    password_login,
    run_python,
    set_expires_at,
    try_password_login,
)

pytestmark = [pytest.mark.integration, pytest.mark.keycloak]


# -- bad input: one clear line, a documented exit code, never a traceback -------------


def test_wrong_password_and_unknown_user(cli: Cli, platform: Any) -> None:
    for user in ("alice", "nobody-here"):
        result = try_password_login(cli, platform, user, "wrong-password")
        assert_clean_failure(result, 7, f"wrong username or password for '{user}'", "invalid_grant")
        assert "wrong-password" not in result.stdout + result.stderr


def test_untrusted_idp_certificate_then_each_way_to_trust_it(
    cli: Cli, platform: Any, keycloak: Any
) -> None:
    alice = keycloak.users["alice"]
    args = ("login", "--base-url", platform.base_url, "--username", "alice", "--password-stdin")
    result = cli.run(*args, input=alice.password + "\n")
    assert_clean_failure(
        result, 6, "cannot verify the TLS certificate of the identity provider", "--ca-file"
    )
    for env in ({"SSL_CERT_FILE": platform.ca_file}, {"AUTHGATE_CA_FILE": platform.ca_file}):
        ok = cli.run(*args, input=alice.password + "\n", env=env)
        assert ok.returncode == 0, ok.stderr


def test_expired_device_code(cli: Cli, platform: Any, keycloak: Any) -> None:
    clients = keycloak.admin(
        "GET", "/authgate/clients", params={"clientId": keycloak.cli_client_id}
    ).json()
    client = clients[0]
    saved = dict(client.get("attributes", {}))
    client.setdefault("attributes", {})["oauth2.device.code.lifespan"] = "6"
    keycloak.admin("PUT", f"/authgate/clients/{client['id']}", json=client)
    try:
        result = login(cli, platform, "--no-browser", timeout=60)
    finally:
        client["attributes"] = saved
        client["attributes"].setdefault("oauth2.device.code.lifespan", "")
        keycloak.admin("PUT", f"/authgate/clients/{client['id']}", json=client)
    assert_clean_failure(result, 9, "the device code expired", "login again")
    assert "expires in 6s" in result.stderr
    # Restored: a new device code lives as long as the realm says again.
    answer = httpx.post(
        keycloak.device_endpoint,
        data={"client_id": keycloak.cli_client_id},
        verify=ssl.create_default_context(cafile=platform.ca_file),
        timeout=10,
    ).json()
    assert answer["expires_in"] > 60


def test_idp_down(cli: Cli, platform: Any, keycloak: Any) -> None:
    """Keycloak stopped: login and refresh say the IdP is unreachable; it recovers after."""
    password_login(cli, platform, keycloak.users["alice"])
    keycloak.stop()
    try:
        assert_clean_failure(
            cli.run("refresh"), 6, "cannot reach the identity provider", "connection failed"
        )
        login = cli.run("login", "--username", "bob", "--password-stdin", input="x\n")
        assert_clean_failure(login, 6, "cannot reach the identity provider")
    finally:
        keycloak.start()
    assert cli.run("refresh").returncode == 0


def test_ctrl_c_while_waiting_exits_130_cleanly(cli: Cli, platform: Any) -> None:
    with device_login(cli, platform) as (proc, stderr):
        stderr.wait_for(r"Waiting for you to finish in the browser")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 130
    time.sleep(0.2)  # let the reader drain the pipe
    assert "Interrupted." in stderr.text()
    assert "Traceback" not in stderr.text()
    assert not cli.config_path.exists()  # nothing half-written


SKEWED_CLOCK = """
import time as _time
_real = _time.time
_time.time = lambda: _real() + {offset}
"""


def test_clock_far_off_is_detected_and_warned(
    cli: Cli, platform: Any, keycloak: Any, tmp_path: Path
) -> None:
    """The CLI runs with its clock two hours ahead: it warns, and still works."""
    shim = tmp_path / "skew"
    shim.mkdir()
    (shim / "sitecustomize.py").write_text(SKEWED_CLOCK.format(offset=7200))
    env = {"PYTHONPATH": str(shim)}
    alice = keycloak.users["alice"]
    result = try_password_login(cli, platform, "alice", alice.password, env=env)
    assert result.returncode == 0, result.stderr
    assert "your clock is about 2h 0m ahead of the identity provider's" in result.stderr
    # Expiry is kept on the local clock, so the token is not taken for expired and
    # `token` does not renew it on every call.
    stored = cli.user()["access_token"]
    token = cli.run("token", env=env)
    assert token.returncode == 0 and token.stdout.strip() == stored
    assert echo(platform, stored)["x-nmp-principal-email"] == "alice@example.com"
    status = cli.run("status", env=env)
    assert "ahead of the identity provider" in status.stderr


def _deny_in_browser(keycloak: Any, link: str, username: str) -> None:
    """Log in on Keycloak's pages, then press "No" on the device grant page."""
    from tests.testenv.browser import LoginDriver, parse_forms

    user = keycloak.users[username]
    driver = LoginDriver(Path(keycloak.ca_file), username, user.password)
    try:
        response = driver.client.get(link)
        for _ in range(12):
            if response.is_redirect:
                response = driver.client.get(response.url.join(response.headers["location"]))
                continue
            forms, _messages = parse_forms(response.text)
            if not forms:
                return
            form = forms[0]
            submits = dict(form.submits)
            if "username" in form.fields or "password" in form.fields:
                form.fields.update(username=username, password=user.password)
            elif "cancel" in submits:
                form.fields["cancel"] = submits["cancel"] or "No"
            else:
                raise AssertionError(f"unexpected form {form}")
            response = driver.client.post(response.url.join(form.action), data=form.fields)
        raise AssertionError("the denial did not finish")
    finally:
        driver.close()


def test_device_login_denied_in_the_browser(cli: Cli, platform: Any, keycloak: Any) -> None:
    with device_login(cli, platform) as (proc, stderr):
        link = stderr.wait_for(LINK).group(1)
        _deny_in_browser(keycloak, link, "bob")
        assert proc.wait(timeout=60) == 8
    time.sleep(0.2)
    assert "error: the login was denied in the browser" in stderr.text()
    assert "Traceback" not in stderr.text()


def test_dead_refresh_token_says_log_in_again(cli: Cli, platform: Any, keycloak: Any) -> None:
    """The user's sessions are ended in Keycloak (admin logout): refresh cannot work."""
    password_login(cli, platform, keycloak.users["carol"])
    user_id = keycloak.admin(
        "GET", "/authgate/users", params={"username": "carol", "exact": "true"}
    ).json()[0]["id"]
    keycloak.admin("POST", f"/authgate/users/{user_id}/logout")
    context = cli.config()["current-context"]
    assert_clean_failure(
        cli.run("refresh"),
        10,
        f"your session for context '{context}' has ended",
        "invalid_grant",
        f"log in again: python -m authgate login --context {context}",
    )
    set_expires_at(cli, 5)
    assert_clean_failure(cli.run("token"), 10, "has ended")
    script = (
        "from authgate.client import Client, SessionExpired\n"
        "try:\n    Client().get('/apis/demo/x')\n"
        "except SessionExpired as exc:\n    print('SessionExpired:', exc)\n"
    )
    result = run_python(cli, script)
    assert "SessionExpired: your session" in result.stdout, result.stderr
    # Logging in again repairs it.
    password_login(cli, platform, keycloak.users["carol"])
    assert cli.run("refresh").returncode == 0


def test_live_waiting_indicator_on_a_terminal(cli: Cli, platform: Any) -> None:
    """On a terminal the wait is a spinner redrawn in place with the time left."""
    import pty

    pid, fd = pty.fork()
    if pid == 0:  # the child: the CLI on a pseudo-terminal
        os.environ.clear()
        os.environ.update(cli.env())
        os.execv(
            cli.argv([])[0],
            [*cli.argv(["login", "--base-url", platform.base_url, "--ca-file", platform.ca_file])],
        )
    screen = b""
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline and screen.count(b"left)") < 5:
            try:
                screen += os.read(fd, 4096)
            except OSError:
                break
        os.kill(pid, signal.SIGINT)
        end = time.monotonic() + 10
        while time.monotonic() < end and b"Interrupted." not in screen:
            try:
                screen += os.read(fd, 4096)
            except OSError:
                break
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    text = screen.decode(errors="replace")
    assert os.waitstatus_to_exitcode(status) == 130, text
    assert "\r| Waiting for you to finish in the browser (" in text
    assert "\r/ Waiting" in text and "\r- Waiting" in text
    assert "Interrupted." in text and "Traceback" not in text

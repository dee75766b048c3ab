"""The CLI as a real subprocess against the real proxy in front of real Keycloak.

Every login starts at the proxy's discovery document; tokens come from
Keycloak; calls go through the proxy to the demo upstream, which echoes the
identity headers it received.
"""

from __future__ import annotations

import json
import os
import re
import signal
import ssl
import stat
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from .client_harness import Cli, LineReader, assert_clean_failure

pytestmark = [pytest.mark.integration, pytest.mark.keycloak]

LINK = r"Or open this link, which carries the code: (\S+)"


def password_login(
    cli: Cli, platform: Any, user: Any, *extra: str
) -> subprocess.CompletedProcess[str]:
    result = cli.run(
        "login",
        "--base-url",
        platform.base_url,
        "--ca-file",
        platform.ca_file,
        "--username",
        user.username,
        "--password-stdin",
        *extra,
        input=user.password + "\n",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def echo(platform: Any, token: str, path: str = "/apis/demo/hello") -> dict[str, str]:
    response = httpx.get(
        platform.base_url + path, headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert response.status_code == 200, response.text
    return {k.lower(): v for k, v in response.json()["headers"]}


def test_device_flow_completed_in_keycloak_while_cli_waits(
    cli: Cli, platform: Any, keycloak: Any
) -> None:
    proc = cli.start(
        "login", "--base-url", platform.base_url, "--ca-file", platform.ca_file, "--no-browser"
    )
    try:
        stderr = LineReader(proc.stderr)
        stdout = LineReader(proc.stdout)
        link = stderr.wait_for(LINK).group(1)
        code = stderr.wait_for(r"enter the code: (\S+)").group(1)
        assert code in link
        stderr.wait_for(r"Waiting for you to finish in the browser")
        keycloak.complete_device_login(link, "alice")
        assert proc.wait(timeout=60) == 0, stderr.text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    assert "Logged in to " + platform.base_url + " as alice@example.com" in stdout.text()
    assert "refresh token stored" in stdout.text()
    assert "Traceback" not in stderr.text()

    # The config file: private, and it names the platform, not the IdP's endpoints.
    mode = stat.S_IMODE(cli.config_path.stat().st_mode)
    assert mode == 0o600
    document = cli.config()
    assert document["clusters"][0]["cluster"] == {
        "base_url": platform.base_url,
        "ca_file": platform.ca_file,
    }
    assert "token_endpoint" not in cli.config_path.read_text()
    assert cli.user()["grant"] == "device"

    status = cli.run("status")
    assert status.returncode == 0, status.stderr
    assert "alice@example.com" in status.stdout
    assert "developers, platform-admins" in status.stdout
    assert "platform:read" in status.stdout
    assert re.search(r"^Refresh token:\s+present$", status.stdout, re.M), status.stdout
    assert cli.user()["access_token"] not in status.stdout  # tokens only via `token`

    data = json.loads(cli.run("status", "-o", "json").stdout)
    assert data["user"] == "alice@example.com" and data["refresh_token"] is True
    assert data["config_file"] == str(cli.config_path)

    token = cli.run("token").stdout.strip()
    headers = echo(platform, token)
    assert headers["x-nmp-principal-email"] == "alice@example.com"
    assert "platform-admins" in headers["x-nmp-principal-groups"]


def test_password_grant_from_stdin_and_from_environment(
    cli: Cli, platform: Any, keycloak: Any
) -> None:
    bob = keycloak.users["bob"]
    result = password_login(cli, platform, bob)
    assert "bypasses multi-factor authentication" in result.stderr
    assert "as bob@example.com" in result.stdout
    assert bob.password not in result.stdout + result.stderr
    assert cli.user()["grant"] == "password"

    decoded = json.loads(cli.run("token", "--decode").stdout)
    assert decoded["claims"]["preferred_username"] == "bob"
    assert decoded["header"]["alg"] == "RS256"

    carol = keycloak.users["carol"]
    by_env = cli.run(
        "login",
        "--context",
        "ci",
        "--base-url",
        platform.base_url,
        env={
            "AUTHGATE_USERNAME": "carol",
            "AUTHGATE_PASSWORD": carol.password,
            "AUTHGATE_CA_FILE": platform.ca_file,
        },
    )
    assert by_env.returncode == 0, by_env.stderr
    assert cli.run("config", "current-context").stdout.strip() == "ci"
    assert (
        echo(platform, cli.run("token").stdout.strip())["x-nmp-principal-email"]
        == "carol@example.com"
    )
    # Switch back to the first context by name.
    first = next(c["name"] for c in cli.config()["contexts"] if c["name"] != "ci")
    assert cli.run("config", "use-context", first).returncode == 0
    assert (
        echo(platform, cli.run("token").stdout.strip())["x-nmp-principal-email"]
        == "bob@example.com"
    )
    view = cli.run("config", "view")
    assert "REDACTED" in view.stdout and cli.user()["refresh_token"] not in view.stdout


def test_refresh_renews_and_stores_the_rotated_refresh_token(
    cli: Cli, platform: Any, keycloak: Any
) -> None:
    password_login(cli, platform, keycloak.users["alice"])
    before = cli.user()
    result = cli.run("refresh")
    assert result.returncode == 0, result.stderr
    assert "Refreshed context" in result.stdout
    after = cli.user()
    assert after["access_token"] != before["access_token"]
    assert after["refresh_token"] != before["refresh_token"]  # Keycloak rotates it
    assert echo(platform, after["access_token"])["x-nmp-principal-email"] == "alice@example.com"


def _set_expires_at(cli: Cli, seconds_from_now: float) -> None:
    document = cli.config()
    for entry in document["users"]:  # as if issued 5 minutes before it expires
        entry["user"]["expires_at"] = time.time() + seconds_from_now
        entry["user"]["obtained_at"] = time.time() + seconds_from_now - 300
    cli.config_path.write_text(yaml.safe_dump(document))


@pytest.fixture
def strict_rotation(keycloak: Any) -> Any:
    """Refresh tokens single-use (Keycloak 'revoke refresh token'): reuse kills the login."""
    realm = keycloak.admin("GET", "/authgate").json()
    saved = {k: realm.get(k) for k in ("revokeRefreshToken", "refreshTokenMaxReuse")}
    keycloak.admin("PUT", "/authgate", json={"revokeRefreshToken": True, "refreshTokenMaxReuse": 0})
    yield
    keycloak.admin(
        "PUT", "/authgate", json={k: v if v is not None else False for k, v in saved.items()}
    )


def test_two_processes_refreshing_at_once_both_succeed(
    cli: Cli, platform: Any, keycloak: Any, strict_rotation: Any
) -> None:
    password_login(cli, platform, keycloak.users["bob"])
    for command in (("refresh",), ("token",)):
        _set_expires_at(cli, 5)  # inside every margin: both must renew, or reuse the renewal
        before = cli.user()["access_token"]
        procs = [cli.start(*command) for _ in range(2)]
        outputs = [p.communicate(timeout=60) for p in procs]
        for proc, (out, err) in zip(procs, outputs, strict=True):
            assert proc.returncode == 0, err
            assert "Traceback" not in err
        document = cli.config()  # still valid YAML with one user
        assert len(document["users"]) == 1
        token = cli.user()["access_token"]
        assert token != before
        if command == ("token",):
            # One renewal, shared: both printed the token now stored.
            assert [out.strip() for out, _ in outputs] == [token, token]
        assert echo(platform, token)["x-nmp-principal-email"] == "bob@example.com"
    # The stored refresh token is the live one: one more refresh works.
    assert cli.run("refresh").returncode == 0


def test_logout_forgets_the_tokens(cli: Cli, platform: Any, keycloak: Any) -> None:
    password_login(cli, platform, keycloak.users["carol"])
    result = cli.run("logout")
    assert result.returncode == 0 and "Logged out" in result.stdout
    assert cli.config()["users"] == []
    assert_clean_failure(cli.run("token"), 4, "not logged in", "login --context")
    assert_clean_failure(cli.run("status"), 4, "not logged in")
    # The platform is remembered: `login` with no --base-url goes back to it.
    again = cli.run(
        "login",
        "--username",
        "carol",
        "--password-stdin",
        input=keycloak.users["carol"].password + "\n",
    )
    assert again.returncode == 0, again.stderr


SDK_SCRIPT = r"""
import asyncio, json, sys
from authgate.client import AsyncClient, Client

with Client() as client:
    sync = client.get("/apis/demo/sync").json()
    issuer = client.discovery().issuer

async def main():
    async with AsyncClient() as client:
        assert (await client.discovery()).issuer == issuer
        return (await client.get("/apis/demo/async")).json()

out = {"sync": sync, "async": asyncio.run(main()), "issuer": issuer}
print(json.dumps(out))
"""


def _principal(echoed: dict[str, Any]) -> str:
    return {k.lower(): v for k, v in echoed["headers"]}["x-nmp-principal-email"]


def test_sdk_with_no_arguments_after_login(cli: Cli, platform: Any, keycloak: Any) -> None:
    password_login(cli, platform, keycloak.users["alice"])
    result = subprocess.run(
        [cli.argv([])[0], "-c", SDK_SCRIPT],
        capture_output=True,
        text=True,
        env=cli.env(),
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert _principal(out["sync"]) == "alice@example.com"
    assert out["sync"]["path"] == "/apis/demo/sync"
    assert _principal(out["async"]) == "alice@example.com"
    assert out["issuer"] == keycloak.issuer


def test_sdk_retries_once_after_a_401_by_refreshing(cli: Cli, platform: Any, keycloak: Any) -> None:
    password_login(cli, platform, keycloak.users["bob"])
    document = cli.config()
    good = document["users"][0]["user"]["access_token"]
    # A token the proxy rejects (signature broken) that still looks fresh locally.
    document["users"][0]["user"]["access_token"] = good[:-4] + (
        "AAAA" if good[-4:] != "AAAA" else "BBBB"
    )
    cli.config_path.write_text(yaml.safe_dump(document))
    result = subprocess.run(
        [cli.argv([])[0], "-c", SDK_SCRIPT],
        capture_output=True,
        text=True,
        env=cli.env(),
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert _principal(json.loads(result.stdout)["sync"]) == "bob@example.com"
    assert cli.user()["access_token"] not in (good, document["users"][0]["user"]["access_token"])


def test_sdk_explicit_arguments_override_config(
    platform: Any, keycloak: Any, tmp_path: Path
) -> None:
    from authgate.client import Client, Unauthorized

    token = keycloak.password_token("carol")["access_token"]
    with Client(
        platform.base_url, access_token=token, config_file=tmp_path / "absent.yaml"
    ) as client:
        assert _principal(client.get("/apis/demo/x").json()) == "carol@example.com"
    with (
        Client(
            platform.base_url, access_token="not-a-jwt", config_file=tmp_path / "absent.yaml"
        ) as client,
        pytest.raises(Unauthorized) as caught,
    ):
        client.get("/apis/demo/x")
    assert caught.value.status_code == 401


# -- bad input: one clear line, a documented exit code, never a traceback -------------


def test_wrong_password_and_unknown_user(cli: Cli, platform: Any) -> None:
    for user in ("alice", "nobody-here"):
        result = cli.run(
            "login",
            "--base-url",
            platform.base_url,
            "--ca-file",
            platform.ca_file,
            "--username",
            user,
            "--password-stdin",
            input="wrong-password\n",
        )
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
        result = cli.run(
            "login",
            "--base-url",
            platform.base_url,
            "--ca-file",
            platform.ca_file,
            "--no-browser",
            timeout=60,
        )
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
    proc = cli.start(
        "login", "--base-url", platform.base_url, "--ca-file", platform.ca_file, "--no-browser"
    )
    try:
        stderr = LineReader(proc.stderr)
        stderr.wait_for(r"Waiting for you to finish in the browser")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
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
    result = cli.run(
        "login",
        "--base-url",
        platform.base_url,
        "--ca-file",
        platform.ca_file,
        "--username",
        "alice",
        "--password-stdin",
        input=alice.password + "\n",
        env=env,
    )
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
    proc = cli.start(
        "login", "--base-url", platform.base_url, "--ca-file", platform.ca_file, "--no-browser"
    )
    try:
        stderr = LineReader(proc.stderr)
        link = stderr.wait_for(LINK).group(1)
        _deny_in_browser(keycloak, link, "bob")
        assert proc.wait(timeout=60) == 8
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
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
    _set_expires_at(cli, 5)
    assert_clean_failure(cli.run("token"), 10, "has ended")
    script = (
        "from authgate.client import Client, SessionExpired\n"
        "try:\n    Client().get('/apis/demo/x')\n"
        "except SessionExpired as exc:\n    print('SessionExpired:', exc)\n"
    )
    result = subprocess.run(
        [cli.argv([])[0], "-c", script], capture_output=True, text=True, env=cli.env(), timeout=60
    )
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

"""The CLI as a real subprocess against the real proxy in front of real Keycloak.

Every login starts at the proxy's discovery document; tokens come from
Keycloak; calls go through the proxy to the demo upstream, which echoes the
identity headers it received.
"""

from __future__ import annotations

import json
import re
import stat
from typing import Any

import pytest

from .client_harness import Cli, LineReader, assert_clean_failure
from .keycloak_cli import LINK, device_login, echo, password_login, set_expires_at

pytestmark = [pytest.mark.integration, pytest.mark.keycloak]


def test_device_flow_completed_in_keycloak_while_cli_waits(
    cli: Cli, platform: Any, keycloak: Any
) -> None:
    with device_login(cli, platform) as (proc, stderr):
        stdout = LineReader(proc.stdout)
        link = stderr.wait_for(LINK).group(1)
        code = stderr.wait_for(r"enter the code: (\S+)").group(1)
        assert code in link
        stderr.wait_for(r"Waiting for you to finish in the browser")
        keycloak.complete_device_login(link, "alice")
        assert proc.wait(timeout=60) == 0, stderr.text()
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
        set_expires_at(cli, 5)  # inside every margin: both must renew, or reuse the renewal
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

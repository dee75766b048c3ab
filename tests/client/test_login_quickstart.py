"""``login --unsigned-token --email`` against the real ``authgate quickstart``."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest

from .client_harness import CannedServer, Cli, assert_clean_failure
from .servers import running_quickstart

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_quickstart(tmp_path_factory.mktemp("quickstart")) as url:
        yield url


def test_unsigned_token_login_call_and_refresh(cli: Cli, quickstart: str) -> None:
    result = cli.run(
        "login", "--base-url", quickstart, "--unsigned-token", "--email", "dev@example.com"
    )
    assert result.returncode == 0, result.stderr
    assert "as dev@example.com" in result.stdout and "re-minted on refresh" in result.stdout
    token = cli.run("token").stdout.strip()
    response = httpx.get(
        quickstart + "/hello", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert response.status_code == 200
    headers = {k.lower(): v for k, v in response.json()["headers"]}
    assert headers["x-nmp-principal-email"] == "dev@example.com"
    # A day-long token; `refresh` mints a new one for the same email.
    status = json.loads(cli.run("status", "-o", "json").stdout)
    assert status["expires_in_seconds"] > 23 * 3600 and status["grant"] == "unsigned"
    time.sleep(1.1)  # iat has one-second resolution
    assert cli.run("refresh").returncode == 0
    assert cli.user()["access_token"] != token
    assert cli.user()["email"] == "dev@example.com"


def test_quickstart_platform_tells_how_to_log_in(cli: Cli, quickstart: str) -> None:
    result = cli.run("login", "--base-url", quickstart, "--no-browser")
    assert_clean_failure(
        result,
        2,
        "runs authgate's local quickstart",
        "login --unsigned-token --email you@example.com",
    )


def test_unsigned_needs_email_and_a_quickstart_platform(cli: Cli, quickstart: str) -> None:
    assert_clean_failure(
        cli.run("login", "--base-url", quickstart, "--unsigned-token"),
        2,
        "--unsigned-token needs --email",
    )
    assert_clean_failure(
        cli.run("login", "--base-url", quickstart, "--unsigned-token", "--email", "not-an-email"),
        2,
        "is not an email address",
    )
    real = {
        "auth_enabled": True,
        "oidc": {
            "issuer": "https://idp",
            "client_id": "cli",
            "token_endpoint": "https://idp/token",
        },
    }
    with CannedServer.json(real) as site:
        result = cli.run(
            "login", "--base-url", site.url, "--unsigned-token", "--email", "dev@example.com"
        )
    assert_clean_failure(result, 2, "is not in quickstart mode", "without --unsigned-token")

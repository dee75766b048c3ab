"""Logins without a person, against the real proxy in front of real Keycloak:
client credentials (with automatic re-request, a wrong and a revoked secret),
the SDK reading AUTHGATE_TOKEN_FILE while the file is replaced, logout
revoking the refresh token (RFC 7009), and a platform/IdP audience mismatch
that is reported as such."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from authgate.client.errors import ExitCode, Unauthorized
from authgate.client.sdk import Client

from .client_harness import Cli, assert_clean_failure
from .keycloak_cli import (
    calling_in_threads,
    echo,
    keycloak_proxy_document,
    login,
    try_password_login,
)

pytestmark = [pytest.mark.integration, pytest.mark.keycloak]


def cc_login(cli: Cli, platform: Any, keycloak: Any, secret: str, *extra: str) -> Any:
    return login(
        cli,
        platform,
        "--client-credentials",
        "--client-id",
        keycloak.ci_client_id,
        "--client-secret-stdin",
        *extra,
        input=secret + "\n",
    )


def test_client_credentials_rerequest_and_revoked_secret(
    cli: Cli, platform: Any, keycloak: Any
) -> None:
    secret = keycloak.ci_client_secret
    result = cc_login(cli, platform, keycloak, secret, "--scope", "platform:read")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "as service-account-authgate-ci" in result.stdout
    assert "requested again before it expires" in result.stdout
    assert "multi-factor" not in result.stderr  # that warning is the password grant's
    assert secret not in result.stdout + result.stderr
    stored = cli.user()
    assert stored["grant"] == "client_credentials" and "refresh_token" not in stored
    view = cli.run("config", "view")
    assert secret not in view.stdout and "client_secret: REDACTED" in view.stdout

    first = cli.run("token").stdout.strip()
    headers = echo(platform, first)
    scopes = headers["x-nmp-scopes"].split()
    assert "platform:read" in scopes and "platform:write" not in scopes  # --scope asked for less
    status = cli.run("status").stdout
    assert "Credential source:" in status and "stored login" in status
    assert "client_credentials" in status

    # 20 s tokens: with half the lifetime left the CLI asks the IdP again (no refresh token).
    time.sleep(11)
    second = cli.run("token")
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip() != first
    echo(platform, second.stdout.strip())

    # The secret is rotated at the IdP: the next re-request fails clearly ...
    new_secret = keycloak.rotate_client_secret(keycloak.ci_client_id)
    time.sleep(11)
    revoked = cli.run("token")
    assert_clean_failure(
        revoked, int(ExitCode.LOGIN_REJECTED), "rejected client 'authgate-ci'", "revoked secret"
    )
    assert secret not in revoked.stderr and new_secret not in revoked.stderr
    # ... and AUTHGATE_CLIENT_SECRET (the CI system's secret store) wins over the stored one.
    fixed = cli.run("token", env={"AUTHGATE_CLIENT_SECRET": new_secret})
    assert fixed.returncode == 0, fixed.stderr
    echo(platform, fixed.stdout.strip())


def test_wrong_secret_and_missing_secret(cli: Cli, platform: Any, keycloak: Any) -> None:
    wrong = cc_login(cli, platform, keycloak, "not-the-secret")
    assert_clean_failure(wrong, int(ExitCode.LOGIN_REJECTED), "rejected client 'authgate-ci'")
    assert "not-the-secret" not in wrong.stdout + wrong.stderr
    for env, phrase in (  # no secret at all, and an empty one in the environment
        ({}, "no client secret given"),
        ({"AUTHGATE_CLIENT_SECRET": ""}, "AUTHGATE_CLIENT_SECRET is set but empty"),
    ):
        no_secret = cli.run(
            "login",
            "--base-url",
            platform.base_url,
            "--client-credentials",
            "--client-id",
            keycloak.ci_client_id,
            env=env,
        )
        assert_clean_failure(no_secret, int(ExitCode.USAGE), phrase)
    from_env = login(
        cli,
        platform,
        "--client-credentials",
        env={
            "AUTHGATE_CLIENT_ID": keycloak.ci_client_id,
            "AUTHGATE_CLIENT_SECRET": keycloak.ci_client_secret,
        },
    )
    assert from_env.returncode == 0, from_env.stderr


def test_logout_revokes_the_refresh_token(cli: Cli, platform: Any, keycloak: Any) -> None:
    alice = keycloak.users["alice"]
    result = login(
        cli,
        platform,
        env={"AUTHGATE_USERNAME": alice.username, "AUTHGATE_PASSWORD": alice.password},
    )
    assert result.returncode == 0, result.stderr
    assert "multi-factor" in result.stderr  # today's warning, also from the environment
    assert "as alice@example.com" in result.stdout  # the email, not the sub
    refresh_token = cli.user()["refresh_token"]
    out = cli.run("logout")
    assert out.returncode == 0, out.stderr
    assert "Revoked the refresh token at the identity provider" in out.stdout
    answer = httpx.post(
        keycloak.token_endpoint,
        data={
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": keycloak.cli_client_id,
        },
        verify=keycloak.ssl_context(),
    )
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"


def test_sdk_token_file_swapped_during_requests(
    platform: Any,
    keycloak: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    sdk_env: None,
) -> None:
    tokens = [keycloak.password_token(user)["access_token"] for user in ("alice", "bob")] * 3
    token_file = tmp_path / "token"
    token_file.write_text(tokens[0])
    monkeypatch.setenv("AUTHGATE_TOKEN_FILE", str(token_file))
    client = Client(platform.base_url)
    assert client.credential_source.kind == "AUTHGATE_TOKEN_FILE"

    def principal() -> str:
        body = client.get("/apis/demo/hello").json()
        return str(dict(body["headers"]).get("X-NMP-Principal-Email", "?"))

    with calling_in_threads(principal) as calls:
        for token in tokens[1:]:
            time.sleep(0.4)
            tmp = token_file.with_suffix(".new")
            tmp.write_text(token)
            os.replace(tmp, token_file)  # an atomic swap, as a CI agent or kubelet does
        time.sleep(0.4)
    client.close()
    seen = [email for _, email in calls.seen]
    assert calls.failures == []
    assert len(seen) > 20
    assert {"alice@example.com", "bob@example.com"} <= set(seen)
    assert seen[-1] == "bob@example.com"  # the last token written is the one in use


def test_audience_mismatch_is_named(
    cli: Cli,
    keycloak: Any,
    demo_upstream: str,
    start_proxy: Callable[[dict[str, Any]], str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A platform expecting another audience than the IdP issues: login warns, and
    the SDK's 401 names the mismatch instead of saying "log in again"."""
    document = keycloak_proxy_document(
        keycloak,
        demo_upstream,
        audience=["api://elsewhere"],
        default_scopes="openid email platform:read",
    )
    elsewhere = SimpleNamespace(base_url=start_proxy(document), ca_file=str(keycloak.ca_file))
    result = try_password_login(cli, elsewhere, "bob", keycloak.users["bob"].password)
    assert result.returncode == 0, result.stderr
    assert "the platform accepts audience 'api://elsewhere'" in result.stderr
    assert "'api://authgate'" in result.stderr and "logging in again will not help" in (
        result.stderr
    )
    monkeypatch.setenv("AUTHGATE_CONFIG", str(cli.config_path))
    with Client(elsewhere.base_url) as client, pytest.raises(Unauthorized) as info:
        client.get("/apis/demo/hello")
    assert info.value.reason == "bad_audience"
    assert "accepts audience 'api://elsewhere'" in info.value.message
    assert "log in again" not in str(info.value)

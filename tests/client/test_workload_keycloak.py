"""Logins without a person, against the real proxy in front of real Keycloak:
client credentials (with automatic re-request, a wrong and a revoked secret),
the SDK reading AUTHGATE_TOKEN_FILE while the file is replaced, logout
revoking the refresh token (RFC 7009), and a platform/IdP audience mismatch
that is reported as such."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from authgate.client.errors import ExitCode, Unauthorized
from authgate.client.sdk import Client
from tests.support.ports import free_port

from .client_harness import (
    PYTHON,
    Cli,
    ServerProcess,
    assert_clean_failure,
    proxy_document,
)

pytestmark = [pytest.mark.integration, pytest.mark.keycloak]


def cc_login(cli: Cli, platform: Any, keycloak: Any, secret: str, *extra: str) -> Any:
    return cli.run(
        "login",
        "--base-url",
        platform.base_url,
        "--ca-file",
        platform.ca_file,
        "--client-credentials",
        "--client-id",
        keycloak.ci_client_id,
        "--client-secret-stdin",
        *extra,
        input=secret + "\n",
    )


def echo(platform: Any, token: str) -> dict[str, str]:
    response = httpx.get(
        platform.base_url + "/apis/demo/hello",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return {k.lower(): v for k, v in response.json()["headers"]}


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
    missing = cli.run(
        "login",
        "--base-url",
        platform.base_url,
        "--client-credentials",
        "--client-id",
        keycloak.ci_client_id,
    )
    assert_clean_failure(missing, int(ExitCode.USAGE), "no client secret given")
    empty_env = cli.run(
        "login",
        "--base-url",
        platform.base_url,
        "--client-credentials",
        "--client-id",
        keycloak.ci_client_id,
        env={"AUTHGATE_CLIENT_SECRET": ""},
    )
    assert_clean_failure(empty_env, int(ExitCode.USAGE), "AUTHGATE_CLIENT_SECRET is set but empty")
    from_env = cli.run(
        "login",
        "--base-url",
        platform.base_url,
        "--ca-file",
        platform.ca_file,
        "--client-credentials",
        env={
            "AUTHGATE_CLIENT_ID": keycloak.ci_client_id,
            "AUTHGATE_CLIENT_SECRET": keycloak.ci_client_secret,
        },
    )
    assert from_env.returncode == 0, from_env.stderr


def test_logout_revokes_the_refresh_token(cli: Cli, platform: Any, keycloak: Any) -> None:
    alice = keycloak.users["alice"]
    login = cli.run(
        "login",
        "--base-url",
        platform.base_url,
        "--ca-file",
        platform.ca_file,
        env={"AUTHGATE_USERNAME": alice.username, "AUTHGATE_PASSWORD": alice.password},
    )
    assert login.returncode == 0, login.stderr
    assert "multi-factor" in login.stderr  # today's warning, also from the environment
    assert "as alice@example.com" in login.stdout  # the email, not the sub
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
    platform: Any, keycloak: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokens = [keycloak.password_token(user)["access_token"] for user in ("alice", "bob")] * 3
    token_file = tmp_path / "token"
    token_file.write_text(tokens[0])
    monkeypatch.setenv("AUTHGATE_CONFIG", str(tmp_path / "no-login.yaml"))
    monkeypatch.setenv("AUTHGATE_TOKEN_FILE", str(token_file))
    monkeypatch.delenv("AUTHGATE_TOKEN", raising=False)
    client = Client(platform.base_url)
    assert client.credential_source.kind == "AUTHGATE_TOKEN_FILE"
    seen: list[str] = []
    failures: list[str] = []
    stop = threading.Event()

    def run() -> None:
        while not stop.is_set():
            try:
                body = client.get("/apis/demo/hello").json()
                seen.append(dict(body["headers"]).get("X-NMP-Principal-Email", "?"))
            except Exception as exc:  # any failure counts
                failures.append(repr(exc))

    workers = [threading.Thread(target=run) for _ in range(3)]
    for worker in workers:
        worker.start()
    try:
        for token in tokens[1:]:
            time.sleep(0.4)
            tmp = token_file.with_suffix(".new")
            tmp.write_text(token)
            os.replace(tmp, token_file)  # an atomic swap, as a CI agent or kubelet does
        time.sleep(0.4)
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=30)
    client.close()
    assert failures == []
    assert len(seen) > 20
    assert {"alice@example.com", "bob@example.com"} <= set(seen)
    assert seen[-1] == "bob@example.com"  # the last token written is the one in use


def test_audience_mismatch_is_named(
    cli: Cli, keycloak: Any, demo_upstream: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A platform expecting another audience than the IdP issues: login warns, and
    the SDK's 401 names the mismatch instead of saying "log in again"."""
    port, admin = free_port(), free_port()
    document = proxy_document(
        port=port,
        admin_port=admin,
        upstream=demo_upstream,
        issuer=keycloak.issuer,
        client_id=keycloak.cli_client_id,
        audience=["api://elsewhere"],
        ca_file=str(keycloak.ca_file),
        default_scopes="openid email platform:read",
    )
    config = tmp_path / "proxy.yaml"
    config.write_text(yaml.safe_dump(document))
    proc = ServerProcess(
        [PYTHON, "-m", "authgate", "proxy", "--config", str(config)], tmp_path / "proxy.log"
    ).start()
    try:
        proc.wait_http(f"http://127.0.0.1:{admin}/readyz", timeout=60)
        base = f"http://127.0.0.1:{port}"
        bob = keycloak.users["bob"]
        login = cli.run(
            "login",
            "--base-url",
            base,
            "--ca-file",
            str(keycloak.ca_file),
            "--username",
            "bob",
            "--password-stdin",
            input=bob.password + "\n",
        )
        assert login.returncode == 0, login.stderr
        assert "the platform accepts audience 'api://elsewhere'" in login.stderr
        assert "'api://authgate'" in login.stderr and "logging in again will not help" in (
            login.stderr
        )
        monkeypatch.setenv("AUTHGATE_CONFIG", str(cli.config_path))
        with Client(base) as client, pytest.raises(Unauthorized) as info:
            client.get("/apis/demo/hello")
        assert info.value.reason == "bad_audience"
        assert "accepts audience 'api://elsewhere'" in info.value.message
        assert "log in again" not in str(info.value)
    finally:
        proc.stop()

"""``authgate access-keys`` as a user runs it: logged in (Keycloak, password grant)
to a platform URL served by a sidecar, the CLI finds the operator's API through
the discovery document, and the key it mints works like any bearer token."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.accesskeys.ak_helpers import AccessKeyApi, eventually, provider_spec, user_token
from tests.client.client_harness import Cli

pytestmark = pytest.mark.timeout(400)


def test_cli_lifecycle(
    keycloak: Any,
    ak_namespace: str,
    providers: Any,
    operator_factory: Any,
    sidecar_factory: Any,
    tmp_path: Path,
) -> None:
    providers.create("corp", provider_spec(keycloak))
    op = operator_factory(ak_namespace)
    providers.wait_ready("corp")
    eventually(
        lambda: AccessKeyApi(op).ready(user_token(keycloak, "bob")),
        timeout=60,
        what="access-key API up",
    )
    car = sidecar_factory("corp", "lean")
    cli = Cli(tmp_path)
    login = cli.run(
        "login",
        "--base-url",
        car.url,
        "--username",
        "bob",
        "--password-stdin",
        "--ca-file",
        str(keycloak.ca_file),
        "--scope",
        "openid",
        "--scope",
        "platform:read",
        "--scope",
        "platform:write",
        input="bob-Passw0rd\n",
    )
    assert login.returncode == 0, login.stderr

    made = cli.run(
        "access-keys", "create", "--name", "ci", "--scope", "platform:read", "--expires-in", "30d"
    )
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert token.count(".") == 2 and "\n" not in token  # only the token on stdout
    assert "shown only once" in made.stderr
    assert car.status(token) == 200  # the key is a bearer token like any other

    listed = json.loads(cli.run("access-keys", "list", "--output", "json").stdout)
    assert listed["total"] == 1
    jti = listed["items"][0]["jti"]
    assert listed["items"][0]["status"] == "Active" and listed["items"][0]["name"] == "ci"
    shown = cli.run("access-keys", "get", jti)
    assert shown.returncode == 0 and "platform:read" in shown.stdout and token not in shown.stdout
    got = json.loads(cli.run("access-keys", "get", jti, "-o", "json").stdout)
    assert got["jti"] == jti and "token" not in got

    assert (
        json.loads(cli.run("access-keys", "suspend", jti, "-o", "json").stdout)["status"]
        == "Suspended"
    )
    assert (
        json.loads(cli.run("access-keys", "unsuspend", jti, "-o", "json").stdout)["status"]
        == "Active"
    )
    rotated = cli.run("access-keys", "rotate", jti, "--grace", "1m", "-o", "json")
    assert rotated.returncode == 0, rotated.stderr
    new = json.loads(rotated.stdout)
    assert new["token"] and new["previous"]["status"] == "Rotating"
    assert "shown only once" in rotated.stderr
    revoked = json.loads(cli.run("access-keys", "revoke", new["jti"], "-o", "json").stdout)
    assert revoked["status"] == "Revoked"

    # bad input: one clear line and the documented exit code, never a traceback
    bad = cli.run("access-keys", "get", "ak_" + "0" * 32)
    assert bad.returncode == 11 and "HTTP 404" in bad.stderr and "Traceback" not in bad.stderr
    bad = cli.run("access-keys", "create", "--name", "x", "--expires-in", "soon")
    assert bad.returncode == 2 and "duration" in bad.stderr
    bad = cli.run("access-keys", "create", "--name", "x", "--scope", "admin:all")
    assert bad.returncode == 11 and "scopes you do not have" in bad.stderr
    bad = cli.run("access-keys", "revoke", "not-a-jti")
    assert bad.returncode == 2 and "ak_<32 hex>" in bad.stderr

    # a key as AUTHGATE_TOKEN and as Client(token=...) (the first key is still inside
    # its 1-minute grace); `authgate status` names the credential type, jti and expiry
    env = {"AUTHGATE_TOKEN": token, "AUTHGATE_BASE_URL": car.url}
    status = cli.run("status", env=env)
    assert status.returncode == 0, status.stderr
    assert f"access key {jti}" in status.stdout and "Expires" in status.stdout
    assert token not in status.stdout + status.stderr
    as_json = json.loads(cli.run("status", "-o", "json", env=env).stdout)
    assert as_json["credential_type"] == "access key" and as_json["access_key_id"] == jti
    assert as_json["expires_at"] and as_json["credential_source"] == "AUTHGATE_TOKEN"
    idp = json.loads(cli.run("status", "-o", "json").stdout)  # the stored login: bob's IdP token
    assert idp["credential_type"] == "IdP token"
    from authgate.client import Client

    with Client(base_url=car.url, token=token) as sdk:
        assert sdk.get("/hello").status_code == 200
    sdk_env = cli.run("token", env=env)  # the CLI hands the key out like any token
    assert sdk_env.returncode == 0 and sdk_env.stdout.strip() == token

"""Shared helpers of the CLI-against-Keycloak tests (``test_cli_keycloak*.py``).

A password login through the CLI, a call through the proxy to the demo
upstream that echoes the identity headers it received, and the stored
expiry rewritten so the next ``token`` or ``refresh`` must renew.
"""

from __future__ import annotations

import subprocess
import time
from typing import Any

import httpx
import yaml

from .client_harness import Cli

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


def set_expires_at(cli: Cli, seconds_from_now: float) -> None:
    document = cli.config()
    for entry in document["users"]:  # as if issued 5 minutes before it expires
        entry["user"]["expires_at"] = time.time() + seconds_from_now
        entry["user"]["obtained_at"] = time.time() + seconds_from_now - 300
    cli.config_path.write_text(yaml.safe_dump(document))

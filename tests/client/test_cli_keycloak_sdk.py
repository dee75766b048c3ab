"""The SDK (``authgate.client``) after a CLI login, against the real proxy and Keycloak.

``Client()`` and ``AsyncClient()`` with no arguments read the config file the
CLI wrote; explicit arguments override it; a 401 is retried once after a refresh.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from .client_harness import Cli
from .keycloak_cli import password_login, run_python

pytestmark = [pytest.mark.integration, pytest.mark.keycloak]


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
    result = run_python(cli, SDK_SCRIPT)
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
    result = run_python(cli, SDK_SCRIPT)
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

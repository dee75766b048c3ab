"""Token exchange (RFC 8693) against the real Keycloak 26 and the real proxy.

Keycloak's *standard* token exchange (V2) is internal to internal: the subject is
a token of the same realm that names the exchanging client in `aud`. So the
workload here holds a token of its own client (`authgate-job`) — a user's, or its
service account's — which the platform refuses (`bad_audience`), and trades it
through `authgate-exchanger` for a platform token: `aud` narrowed to
`api://authgate`, `scope` narrowed to what was asked. Exchanging a Kubernetes
service-account token (external to internal) needs Keycloak's legacy V1 exchange,
a preview feature this test Keycloak does not enable; see tests/client/exchange_realm.py.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from authgate.client import AsyncClient, Client
from authgate.client.errors import ExitCode
from authgate.client.exchange import ExchangeRejected
from authgate.client.tokens import claims

from .client_harness import Cli, assert_clean_failure
from .exchange_realm import EXCHANGED_LIFESPAN, ExchangeClients, ensure_exchange_clients
from .keycloak_cli import calling_in_threads, login

pytestmark = [pytest.mark.integration, pytest.mark.keycloak]


@pytest.fixture(scope="module")
def clients(keycloak: Any) -> ExchangeClients:
    return ensure_exchange_clients(keycloak)


def job_token(keycloak: Any, clients: ExchangeClients, user: str | None = None) -> str:
    """A token of the workload's own client: a user's (password grant) or its own."""
    form = (
        {"grant_type": "password", "username": user, "password": keycloak.users[user].password}
        if user
        else {"grant_type": "client_credentials"}
    )
    response = httpx.post(
        keycloak.token_endpoint,
        data={**form, "scope": "openid platform:read platform:write"},
        auth=(clients.job_id, clients.job_secret),
        verify=keycloak.ssl_context(),
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def hello(platform: Any, token: str) -> httpx.Response:
    return httpx.get(
        platform.base_url + "/apis/demo/hello",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )


def upstream_headers(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 200, response.text
    return {k.lower(): v for k, v in response.json()["headers"]}


def exchanging(
    platform: Any, keycloak: Any, clients: ExchangeClients, subject: Any, **options: Any
) -> dict[str, Any]:
    """The SDK's arguments for exchanging ``subject`` as authgate-exchanger."""
    return {
        "base_url": platform.base_url,
        "exchange_from": subject,
        "client_id": clients.exchanger_id,
        "client_secret": clients.exchanger_secret,
        "ca_file": str(keycloak.ca_file),
        **options,
    }


def test_sdk_exchange_narrows_audience_and_scope(
    platform: Any, keycloak: Any, clients: ExchangeClients, tmp_path: Path, sdk_env: None
) -> None:
    subject = job_token(keycloak, clients, "alice")
    assert claims(subject)["aud"] == clients.exchanger_id
    assert hello(platform, subject).json()["reason"] == "bad_audience"  # not a platform token
    subject_file = tmp_path / "subject"
    subject_file.write_text(subject + "\n")
    with Client(
        **exchanging(platform, keycloak, clients, subject_file, exchange_scope="platform:read")
    ) as client:
        headers = dict(client.get("/apis/demo/hello").json()["headers"])
        exchanged = claims(client.token())
    assert headers["X-NMP-Principal-Email"] == "alice@example.com"  # the same person
    scopes = headers["X-NMP-Scopes"].split()
    assert "platform:read" in scopes and "platform:write" not in scopes  # write not asked for
    assert exchanged["aud"] == "api://authgate" and exchanged["azp"] == clients.exchanger_id
    assert "platform:write" in claims(subject)["scope"]

    async def with_async_client() -> str:  # the exchange runs in a worker thread
        async with AsyncClient(
            **exchanging(platform, keycloak, clients, str(subject_file))
        ) as client:
            response = await client.get("/apis/demo/hello")
            return str(dict(response.json()["headers"])["X-NMP-Principal-Email"])

    assert asyncio.run(with_async_client()) == "alice@example.com"

    # The service account's own token carries `account` too; an explicit audience drops it.
    service = job_token(keycloak, clients)
    assert set(claims(service)["aud"]) == {clients.exchanger_id, "account"}
    with Client(
        **exchanging(platform, keycloak, clients, service, exchange_audience="api://authgate")
    ) as client:
        response = client.get("/apis/demo/hello")
        assert claims(client.token())["aud"] == "api://authgate"
    assert upstream_headers(response)["x-nmp-principal-id"]


def test_sdk_exchanges_again_before_expiry_and_when_the_file_changes(
    platform: Any,
    keycloak: Any,
    clients: ExchangeClients,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    sdk_env: None,
) -> None:
    """Three threads call the platform for 14 s: the 20 s exchanged token is exchanged
    again with half its lifetime left, and again when the subject file is replaced
    (alice's token by bob's, an atomic swap as the kubelet does): 0 failed requests."""
    subject_file = tmp_path / "subject"
    subject_file.write_text(job_token(keycloak, clients, "alice"))
    monkeypatch.setenv("AUTHGATE_CLIENT_ID", clients.exchanger_id)
    monkeypatch.setenv("AUTHGATE_CLIENT_SECRET", clients.exchanger_secret)
    client = Client(
        platform.base_url, exchange_from=str(subject_file), ca_file=str(keycloak.ca_file)
    )
    assert client.credential_source.kind == "exchange"
    assert client.credential_source.detail == str(subject_file)

    def principal() -> str:
        body = client.get("/apis/demo/hello").json()
        return str(dict(body["headers"])["X-NMP-Principal-Email"])

    started = time.monotonic()
    with calling_in_threads(principal, pause=0.02) as calls:
        time.sleep(EXCHANGED_LIFESPAN / 2 + 2)  # past half the lifetime: a re-exchange
        tmp = subject_file.with_suffix(".new")
        tmp.write_text(job_token(keycloak, clients, "bob"))
        swapped = time.monotonic()
        tmp.replace(subject_file)
        time.sleep(2)
    exchanger = client._credentials.exchanger
    client.close()
    seen = calls.seen
    assert calls.failures == []
    assert len(seen) > 30
    assert {email for _, email in seen if _ < swapped} == {"alice@example.com"}
    assert seen[-1][1] == "bob@example.com"
    assert exchanger is not None and exchanger.exchanges >= 3  # first, expiry, file change
    print(
        f"\nEXCHANGE {len(seen)} requests in {time.monotonic() - started:.1f}s, "
        f"{exchanger.exchanges} exchanges, 0 failed"
    )


def test_cli_login_exchange_from_file_and_stdin(
    cli: Cli, platform: Any, keycloak: Any, clients: ExchangeClients, tmp_path: Path
) -> None:
    subject_file = tmp_path / "subject"
    subject_file.write_text(job_token(keycloak, clients, "alice"))
    env = {"AUTHGATE_CLIENT_SECRET": clients.exchanger_secret}
    result = login(
        cli,
        platform,
        "--exchange-from",
        str(subject_file),
        "--client-id",
        clients.exchanger_id,
        "--scope",
        "platform:read",
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert "as alice@example.com" in result.stdout
    assert f"exchanged again from {subject_file} before it expires" in result.stdout
    assert "warning" not in result.stderr  # the exchanged token is one the platform accepts
    output = result.stdout + result.stderr
    assert clients.exchanger_secret not in output and subject_file.read_text() not in output
    stored = cli.user()
    assert stored["grant"] == "token_exchange" and stored["subject_file"] == str(subject_file)
    assert "client_secret: REDACTED" in cli.run("config", "view").stdout

    first = cli.run("token").stdout.strip()
    scopes = upstream_headers(hello(platform, first))["x-nmp-scopes"].split()
    assert "platform:read" in scopes and "platform:write" not in scopes
    status = cli.run("status").stdout
    assert "token_exchange" in status and f"Exchanged from:     {subject_file}" in status
    assert first not in status

    # The file now holds bob's token; once the 20 s token is half spent, `token` exchanges
    # the file again (stored secret, no environment needed).
    subject_file.write_text(job_token(keycloak, clients, "bob"))
    time.sleep(EXCHANGED_LIFESPAN / 2 + 1)
    again = cli.run("token")
    assert again.returncode == 0, again.stderr
    assert claims(again.stdout.strip())["email"] == "bob@example.com"

    piped = cli.run(
        "login",
        "--base-url",
        platform.base_url,
        "--exchange-from",
        "-",
        "--client-id",
        clients.exchanger_id,
        env=env,
        input=job_token(keycloak, clients, "carol") + "\n",
    )
    assert piped.returncode == 0, piped.stderr
    assert "as carol@example.com" in piped.stdout and "exchanged from stdin" in piped.stdout
    carols = cli.run("token").stdout.strip()
    assert upstream_headers(hello(platform, carols))["x-nmp-principal-email"] == (
        "carol@example.com"
    )
    # logout revokes the exchanged token as the client it was issued to (RFC 7009)
    out = cli.run("logout")
    assert out.returncode == 0, out.stderr
    assert "Revoked the access token at the identity provider" in out.stdout
    introspected = httpx.post(
        keycloak.token_endpoint + "/introspect",
        data={"token": carols},
        auth=(clients.exchanger_id, clients.exchanger_secret),
        verify=keycloak.ssl_context(),
    )
    assert introspected.json()["active"] is False


def test_refusals_are_clear(
    cli: Cli, platform: Any, keycloak: Any, clients: ExchangeClients, tmp_path: Path, sdk_env: None
) -> None:
    subject = tmp_path / "subject"
    good = {
        "AUTHGATE_CLIENT_ID": clients.exchanger_id,
        "AUTHGATE_CLIENT_SECRET": clients.exchanger_secret,
    }
    not_for_us = keycloak.password_token("alice")["access_token"]  # the CLI client's token
    cases: list[tuple[str, dict[str, str], tuple[str, ...], int, tuple[str, ...]]] = [
        (
            not_for_us,
            good,
            (),
            7,
            ("refused to exchange the subject token", "Client is not within the token audience"),
        ),
        ("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", good, (), 7, ("Invalid token",)),
        (
            "",
            {**good, "AUTHGATE_CLIENT_SECRET": "wrong"},
            (),
            7,
            ("rejected client 'authgate-exchanger'", "wrong, rotated or revoked secret"),
        ),
        ("", {}, (), 13, ("does not let client 'authgate-cli' exchange",)),  # public client
        (
            "",
            {
                "AUTHGATE_CLIENT_ID": keycloak.ci_client_id,
                "AUTHGATE_CLIENT_SECRET": keycloak.ci_client_secret,
            },
            (),
            13,
            ("does not let client 'authgate-ci' exchange", "Standard token exchange"),
        ),
        ("", good, ("--audience", "api://nowhere"), 7, ("refused the requested audience",)),
        (
            "",
            good,
            ("--audience", keycloak.web_client_id),
            7,
            ("refused the requested audience", "not available"),
        ),
        ("", good, ("--scope", "platform:admin"), 7, ("refused the requested scope",)),
    ]
    for token, env, extra, code, phrases in cases:
        token = token or job_token(keycloak, clients, "bob")
        subject.write_text(token)
        result = login(cli, platform, "--exchange-from", str(subject), *extra, env=env)
        assert_clean_failure(result, code, *phrases)
        assert token not in result.stdout + result.stderr
        assert clients.exchanger_secret not in result.stdout + result.stderr

    # The SDK raises the same types; the first request is where the exchange happens.
    with Client(**exchanging(platform, keycloak, clients, not_for_us)) as client:
        with pytest.raises(ExchangeRejected) as info:
            client.get("/apis/demo/hello")
    assert info.value.exit_code == ExitCode.LOGIN_REJECTED
    assert not_for_us not in str(info.value)

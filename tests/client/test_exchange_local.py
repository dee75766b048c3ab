"""Token exchange (RFC 8693) without the real IdP: telling a path from a token, the
request on the wire, and every bad input as one clear line with its documented exit
code (12 for the subject, 7 for a refusal, 13 for an IdP without exchange, 2 for
flags), never a traceback and never the token."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest

from authgate.client import Client, UsageError
from authgate.client.discovery import Discovery
from authgate.client.errors import CredentialSourceError, ExitCode, LoginRejected
from authgate.client.exchange import (
    ExchangeRejected,
    ExchangeSettings,
    ExchangeUnsupported,
    exchange,
    exchange_source,
)
from authgate.client.tokens import TokenSet

from .client_harness import CannedServer, Cli, assert_clean_failure
from .test_token_sources import jwt_like

SUBJECT = jwt_like(sub="job-7", aud="authgate-exchanger")
DISCOVERY = Discovery(
    auth_enabled=True,
    issuer="https://idp",
    client_id="authgate-cli",
    token_endpoint="https://idp/token",
    default_scopes="openid offline_access",
    scope_prefix="api://p/",
    accepted_audiences=("api://p",),
)


def answer(status: int, body: dict[str, object], seen: list[httpx.Request]) -> httpx.Client:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, json=body)

    return httpx.Client(transport=httpx.MockTransport(handle))


def exchange_for_p(
    http: httpx.Client,
    settings: ExchangeSettings,
    where: str = "t",
    discovery: Discovery = DISCOVERY,
) -> TokenSet:
    """``exchange`` of SUBJECT for the platform ``https://p``."""
    return exchange(http, discovery, SUBJECT, settings, base_url="https://p", where=where)


def test_path_or_token(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(SUBJECT + "\n")
    for value in (token_file, str(token_file)):
        source = exchange_source(value)
        assert source.path == str(token_file) and source.read() == SUBJECT
    given = exchange_source(SUBJECT)
    assert given.path is None and given.read() == SUBJECT and given.where == "exchange_from"
    opaque = exchange_source("token.txt")  # no such file, so an opaque token: said so
    assert opaque.path is None and "taken as a token: no file of that name" in opaque.where
    with pytest.raises(CredentialSourceError) as empty:
        exchange_source("  ")
    assert empty.value.exit_code == ExitCode.CREDENTIALS
    with pytest.raises(CredentialSourceError) as missing:
        exchange_source(str(tmp_path / "nope"))
    assert "exchange_from=" in missing.value.message and "no such file" in missing.value.message
    with pytest.raises(CredentialSourceError) as spaced:
        exchange_source("not a token")
    assert "not a token" not in spaced.value.message  # the value itself is never echoed


def test_request_on_the_wire() -> None:
    seen: list[httpx.Request] = []
    http = answer(
        200,
        {
            "access_token": "new.access.token",
            "expires_in": 60,
            "refresh_token": "dropped",
            "issued_token_type": "x",
        },
        seen,
    )
    settings = ExchangeSettings.create(
        client_id="svc", client_secret="s3cret", audience="api://p", scopes="platform:read"
    )
    tokens = exchange_for_p(http, settings)
    form = {k: v[0] for k, v in parse_qs(seen[0].content.decode()).items()}
    assert form == {
        "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
        "subject_token": SUBJECT,
        "subject_token_type": "urn:ietf:params:oauth:token-type:access_token",
        "requested_token_type": "urn:ietf:params:oauth:token-type:access_token",
        "audience": "api://p",
        "scope": "api://p/platform:read",
    }
    assert seen[0].headers["authorization"].startswith("Basic ")  # client_secret_basic
    assert tokens.grant == "token_exchange" and tokens.refresh_token is None
    assert tokens.audience == "api://p" and tokens.client_secret == "s3cret"
    # a public client names itself in the form; offline_access is never asked for
    seen.clear()
    exchange_for_p(http, ExchangeSettings(subject_token_type="jwt-urn"))
    form = {k: v[0] for k, v in parse_qs(seen[0].content.decode()).items()}
    assert form["client_id"] == "authgate-cli" and form["scope"] == "openid"
    assert "authorization" not in seen[0].headers
    # the resource/audience discovery asks every token request to carry (RFC 8707)
    seen.clear()
    wanted = replace(DISCOVERY, token_request_params={"resource": "https://api.p/"})
    exchange_for_p(http, ExchangeSettings(), discovery=wanted)
    assert parse_qs(seen[0].content.decode())["resource"] == ["https://api.p/"]


@pytest.mark.parametrize(
    ("error", "description", "kind", "phrase"),
    [
        ("unsupported_grant_type", None, ExchangeUnsupported, "does not support token exchange"),
        (
            "invalid_request",
            "Standard token exchange is not enabled for the requested client",
            ExchangeUnsupported,
            "does not let client 'svc' exchange",
        ),
        ("unauthorized_client", None, ExchangeUnsupported, "does not let client 'svc' exchange"),
        ("invalid_client", "Invalid client credentials", ExchangeRejected, "wrong, rotated"),
        (
            "invalid_client",
            "Audience not found",
            ExchangeRejected,
            "refused the requested audience",
        ),
        (
            "invalid_request",
            "Requested audience not available: x",
            ExchangeRejected,
            "refused the requested audience",
        ),
        ("invalid_request", "Invalid token", ExchangeRejected, "refused to exchange the subject"),
        ("access_denied", "Client not allowed to exchange", ExchangeRejected, "not meant for"),
        ("invalid_scope", "Invalid scopes: x", ExchangeRejected, "refused the requested scope"),
        ("invalid_target", None, ExchangeRejected, "refused the requested audience"),
    ],
)
def test_refusals_are_named(
    error: str, description: str | None, kind: type[LoginRejected], phrase: str
) -> None:
    body: dict[str, object] = {"error": error}
    if description:
        body["error_description"] = description
    http = answer(400, body, [])
    with pytest.raises(kind) as info:
        exchange_for_p(http, ExchangeSettings("svc", "s3cret"), where="exchange_from=/t")
    assert phrase in str(info.value)
    assert SUBJECT not in str(info.value) and "s3cret" not in str(info.value)
    expected = 13 if kind is ExchangeUnsupported else 7
    assert int(info.value.exit_code) == expected


def test_sdk_arguments(tmp_path: Path, sdk_env: None) -> None:
    with pytest.raises(UsageError, match="not both"):
        Client("http://127.0.0.1:1", token=SUBJECT, exchange_from=SUBJECT)
    with pytest.raises(UsageError, match="need exchange_from"):
        Client("http://127.0.0.1:1", token=SUBJECT, exchange_audience="x")
    with pytest.raises(UsageError, match="no client id"):
        Client("http://127.0.0.1:1", exchange_from=SUBJECT, client_secret="s")
    with pytest.raises(UsageError, match="unknown subject token type"):
        Client("http://127.0.0.1:1", exchange_from=SUBJECT, subject_token_type="saml9")
    with pytest.raises(UsageError, match="no base URL"):
        Client(exchange_from=SUBJECT)
    with pytest.raises(CredentialSourceError, match="is empty"):
        empty = tmp_path / "empty"
        empty.write_text("")
        Client("http://127.0.0.1:1", exchange_from=empty)
    client = Client("http://127.0.0.1:1", exchange_from=SUBJECT)  # lazy: nothing sent yet
    assert client.credential_source.kind == "exchange"
    assert client.credential_source.describe() == "token exchange (RFC 8693) of token argument"
    assert SUBJECT not in repr(client.credential_source)


def test_cli_bad_inputs(cli: Cli, tmp_path: Path) -> None:
    good = tmp_path / "subject"
    good.write_text(SUBJECT)
    empty = tmp_path / "empty"
    empty.write_text("\n")
    url = "http://127.0.0.1:1"
    cases: list[tuple[tuple[str, ...], str, int, str]] = [
        (("--exchange-from", str(tmp_path / "missing")), "", 12, "no such file"),
        (("--exchange-from", str(empty)), "", 12, "is empty"),
        (("--exchange-from", str(tmp_path)), "", 12, "is a directory"),
        (("--exchange-from", "-"), "", 12, "the subject token on stdin is empty"),
        (("--exchange-from", "-"), "two words\n", 12, "does not hold a bearer token"),
        (
            ("--exchange-from", "-", "--client-id", "svc", "--client-secret-stdin"),
            "s\n",
            2,
            "cannot come from there too",
        ),
        (("--audience", "api://p"), "", 2, "only used with --exchange-from"),
        (("--exchange-from", str(good), "--client-credentials"), "", 2, "choose one of"),
        (("--exchange-from", str(good), "--client-secret-stdin"), "s\n", 2, "needs --client-id"),
    ]
    if os.geteuid() != 0:
        unreadable = tmp_path / "unreadable"
        unreadable.write_text(SUBJECT)
        unreadable.chmod(0)
        cases.append((("--exchange-from", str(unreadable)), "", 12, "cannot read it"))
    for args, stdin, code, phrase in cases:
        result = cli.run("login", "--base-url", url, *args, input=stdin)
        assert_clean_failure(result, code, phrase)
        assert SUBJECT not in result.stdout + result.stderr


def test_cli_idp_without_exchange(cli: Cli, tmp_path: Path) -> None:
    """An IdP that does not implement the grant: exit 13, named as such."""
    subject = tmp_path / "subject"
    subject.write_text(SUBJECT)
    with CannedServer.json({"error": "unsupported_grant_type"}, status=400) as idp:
        document = {
            "auth_enabled": True,
            "oidc": {
                "issuer": idp.url,
                "token_endpoint": idp.url + "/token",
                "client_id": "cli",
                "default_scopes": "openid",
            },
        }
        with CannedServer.json(document) as platform:
            result = cli.run(
                "login",
                "--base-url",
                platform.url,
                "--exchange-from",
                str(subject),
                "--client-id",
                "svc",
                "--client-secret-stdin",
                input="the-secret\n",
            )
    assert_clean_failure(
        result, int(ExitCode.EXCHANGE_UNSUPPORTED), "does not support token exchange (RFC 8693)"
    )
    assert SUBJECT not in result.stderr and "the-secret" not in result.stderr
    assert json.dumps(SUBJECT) not in result.stdout


def test_wrong_secret_is_not_mistaken_for_no_exchange() -> None:
    """Keycloak answers a wrong secret with 401 unauthorized_client."""
    http = answer(
        401,
        {
            "error": "unauthorized_client",
            "error_description": "Invalid client or Invalid client credentials",
        },
        [],
    )
    with pytest.raises(ExchangeRejected) as info:
        exchange_for_p(http, ExchangeSettings("svc", "s3cret"))
    assert "wrong, rotated or revoked secret" in info.value.message
    with pytest.raises(ExchangeRejected) as public:
        exchange_for_p(http, ExchangeSettings())
    assert "public client" in public.value.message

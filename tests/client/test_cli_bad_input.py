"""Bad input that needs no IdP: one clear line, the documented exit code, no traceback.

The platforms here are what a user might point the CLI at by mistake: a real
service that is not authgate (the demo upstream), an HTML site, a 404, a broken
discovery document, nothing at all; plus broken config files and bad flags.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ..support.ports import free_port
from .client_harness import CannedServer, Cli, assert_clean_failure

pytestmark = pytest.mark.integration

DISCOVERY = {
    "auth_enabled": True,
    "oidc": {
        "issuer": "http://127.0.0.1:1/realms/x",
        "token_endpoint": "http://127.0.0.1:{port}/token",
        "device_authorization_endpoint": "http://127.0.0.1:{port}/device",
        "client_id": "authgate-cli",
        "default_scopes": "openid",
        "scope_prefix": "",
    },
}


def test_a_real_service_that_is_not_authgate(cli: Cli, demo_upstream: str) -> None:
    result = cli.run("login", "--base-url", demo_upstream, "--no-browser")
    assert_clean_failure(
        result,
        5,
        "does not look like an authgate platform",
        "not a discovery document",
        "check --base-url",
    )


@pytest.mark.parametrize(
    ("server", "phrase"),
    [
        (lambda: CannedServer(200, "text/html", b"<html><body>Welcome</body></html>"), "HTML page"),
        (lambda: CannedServer(404, "text/plain", b"404 page not found"), "returned 404"),
        (lambda: CannedServer(200, "application/json", b"{truncated"), "did not return JSON"),
    ],
)
def test_not_authgate(cli: Cli, server: object, phrase: str) -> None:
    with server() as site:  # type: ignore[operator]
        result = cli.run("login", "--base-url", site.url)
    assert_clean_failure(result, 5, "does not look like an authgate platform", phrase)


def test_malformed_discovery(cli: Cli) -> None:
    with CannedServer.json({"auth_enabled": True, "oidc": {"issuer": "https://idp"}}) as site:
        result = cli.run("login", "--base-url", site.url)
    assert_clean_failure(result, 5, "malformed discovery document", "oidc.client_id: missing")


def test_platform_that_cannot_reach_its_idp(cli: Cli) -> None:
    """A proxy restarted while its IdP is down serves no token_endpoint (issue 13)."""
    document = {
        "auth_enabled": True,
        "oidc": {"issuer": "https://idp", "client_id": "cli", "token_endpoint": None},
    }
    with CannedServer.json(document) as site:
        result = cli.run("login", "--base-url", site.url)
    assert_clean_failure(result, 6, "cannot currently reach its identity provider")
    assert "malformed" not in result.stderr


def test_nothing_listening(cli: Cli) -> None:
    result = cli.run("login", "--base-url", f"http://127.0.0.1:{free_port()}")
    assert_clean_failure(result, 6, "cannot reach the platform", "connection failed")


def test_idp_unreachable(cli: Cli) -> None:
    port = free_port()  # nothing listens: the IdP is down
    document = {
        **DISCOVERY,
        "oidc": {
            k: v.format(port=port) if isinstance(v, str) else v
            for k, v in DISCOVERY["oidc"].items()
        },
    }  # type: ignore[attr-defined]
    with CannedServer.json(document) as site:
        for args in (("--username", "ci", "--password-stdin"), ("--no-browser",)):
            result = cli.run("login", "--base-url", site.url, *args, input="pw\n")
            assert_clean_failure(
                result, 6, "cannot reach the identity provider", f"127.0.0.1:{port}"
            )


def test_auth_disabled_is_explained_not_an_error(cli: Cli) -> None:
    with CannedServer.json({"auth_enabled": False}) as site:
        result = cli.run("login", "--base-url", site.url)
    assert result.returncode == 0, result.stderr
    assert "Authentication is disabled" in result.stderr
    assert "nothing to log in to" in result.stderr


def _write_config(cli: Cli, text: str, mode: int) -> None:
    cli.config_path.parent.mkdir(parents=True, exist_ok=True)
    cli.config_path.write_text(text)
    os.chmod(cli.config_path, mode)


def test_corrupt_config_is_refused_with_how_to_fix(cli: Cli) -> None:
    _write_config(cli, "current-context: dev\nusers: [ {name: x\n", 0o600)
    for command in (
        ("status",),
        ("token",),
        ("login", "--base-url", "http://127.0.0.1:9"),
        ("config", "view"),
    ):
        assert_clean_failure(
            cli.run(*command),
            3,
            "is not valid YAML at line",
            f"mv {cli.config_path} {cli.config_path}.bak",
        )
    _write_config(cli, "users:\n  - name: x\n    user: {refresh_token: r}\n", 0o600)
    assert_clean_failure(cli.run("status"), 3, "users[0].user.access_token: missing")


@pytest.mark.parametrize("mode", [0o644, 0o640])
def test_config_readable_by_others_is_refused(cli: Cli, mode: int) -> None:
    _write_config(cli, "current-context: null\n", mode)
    assert_clean_failure(
        cli.run("status"), 3, "accessible by other users", f"chmod 600 {cli.config_path}"
    )
    os.chmod(cli.config_path, 0o600)
    assert_clean_failure(cli.run("status"), 4, "not logged in")


@pytest.mark.parametrize(
    ("args", "code", "phrase"),
    [
        (("login", "--base-url", "platform.example"), 2, "is not an http(s) URL"),
        (("login", "--base-url", "http://127.0.0.1:9", "--password", "x"), 2, "need --username"),
        (("login", "--base-url", "http://127.0.0.1:9", "--username", "ci"), 2, "no password given"),
        (
            ("login", "--base-url", "http://127.0.0.1:9", "--email", "a@b.c"),
            2,
            "only used with --unsigned-token",
        ),
        (("login",), 2, "no --base-url given and no current context"),
        (
            ("login", "--base-url", "http://127.0.0.1:9", "--ca-file", "/nonexistent/ca.pem"),
            3,
            "cannot load CA file",
        ),
        (("config", "use-context", "nope"), 4, "no context named 'nope'"),
        (("config", "current-context"), 4, "no current context"),
        (("refresh",), 4, "not logged in"),
    ],
)
def test_bad_flags_and_missing_state(
    cli: Cli, args: tuple[str, ...], code: int, phrase: str
) -> None:
    assert_clean_failure(cli.run(*args), code, phrase)


def test_unknown_option_is_a_usage_error(cli: Cli) -> None:
    result = cli.run("login", "--frobnicate")
    assert result.returncode == 2 and "No such option" in result.stderr
    assert "Traceback" not in result.stderr


def test_config_dir_created_private(cli: Cli, tmp_path: Path) -> None:
    with CannedServer.json({"auth_enabled": False}) as site:
        assert cli.run("login", "--base-url", site.url).returncode == 0
    assert oct(cli.config_path.parent.stat().st_mode & 0o777) == "0o700"
    assert oct(cli.config_path.stat().st_mode & 0o777) == "0o600"

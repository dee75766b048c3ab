"""Token sources without an IdP: the order, every bad input (a clear error and
exit code 12, never a traceback), ``authgate token | head``, and ``status``
when the platform has auth switched off."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from authgate.client.errors import CredentialSourceError, ExitCode
from authgate.client.sdk import Client
from authgate.client.sources import TokenFile, env_source
from tests.support.ports import free_port

from .client_harness import PYTHON, Cli, assert_clean_failure


def jwt_like(**claims: Any) -> str:
    def part(obj: Any) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    body = {"sub": "job-1", "iss": "https://ci.example", "exp": int(time.time()) + 600, **claims}
    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(body)}.c2ln"


@pytest.mark.parametrize(
    ("env", "phrase"),
    [
        ({"AUTHGATE_TOKEN": ""}, "AUTHGATE_TOKEN is empty"),
        ({"AUTHGATE_TOKEN": "two words"}, "AUTHGATE_TOKEN does not hold a bearer token"),
        ({"AUTHGATE_TOKEN_FILE": ""}, "AUTHGATE_TOKEN_FILE is set but empty"),
        ({"AUTHGATE_TOKEN_FILE": "/nonexistent/token"}, "/nonexistent/token: no such file"),
        ({"AUTHGATE_TOKEN_FILE": "/"}, "is a directory"),
    ],
)
def test_bad_sources_are_clear_errors(cli: Cli, env: dict[str, str], phrase: str) -> None:
    for command in (("token",), ("status",)):
        result = cli.run(*command, env=env)
        assert_clean_failure(result, int(ExitCode.CREDENTIALS), phrase)


def test_bad_token_files(cli: Cli, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("\n")
    binary = tmp_path / "binary"
    binary.write_bytes(b"\xff\xfe\x00token")
    unreadable = tmp_path / "unreadable"
    unreadable.write_text("abc")
    unreadable.chmod(0)
    cases = [(empty, "is empty"), (binary, "does not hold a bearer token")]
    if os.geteuid() != 0:  # root reads anything
        cases.append((unreadable, "cannot read it"))
    for path, phrase in cases:
        result = cli.run("token", env={"AUTHGATE_TOKEN_FILE": str(path)})
        assert_clean_failure(result, int(ExitCode.CREDENTIALS), phrase, str(path))


def test_order_and_status(cli: Cli, tmp_path: Path) -> None:
    from_env, from_file = jwt_like(sub="from-env"), jwt_like(sub="from-file", email="ci@x.io")
    token_file = tmp_path / "token"
    token_file.write_text(from_file + "\n")
    both = {"AUTHGATE_TOKEN": from_env, "AUTHGATE_TOKEN_FILE": str(token_file)}
    assert cli.run("token", env=both).stdout.strip() == from_env
    assert cli.run("token", "--token", from_file, env=both).stdout.strip() == from_file
    only_file = {"AUTHGATE_TOKEN_FILE": str(token_file), "AUTHGATE_BASE_URL": "https://p.example"}
    assert cli.run("token", env=only_file).stdout.strip() == from_file
    status = cli.run("status", env=only_file)
    assert status.returncode == 0, status.stderr
    assert f"Credential source:  AUTHGATE_TOKEN_FILE ({token_file})" in status.stdout
    assert "ci@x.io" in status.stdout  # the email is the name shown
    assert from_file not in status.stdout + status.stderr
    data = json.loads(cli.run("status", "-o", "json", env=only_file).stdout)
    assert data["credential_source"] == "AUTHGATE_TOKEN_FILE"
    assert data["base_url"] == "https://p.example"


def test_sdk_source_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AUTHGATE_CONFIG", str(tmp_path / "none.yaml"))
    monkeypatch.delenv("AUTHGATE_TOKEN", raising=False)
    monkeypatch.delenv("AUTHGATE_TOKEN_FILE", raising=False)
    explicit = Client("https://p.example", token="abc.def.ghi")
    assert explicit.credential_source.kind == "argument" and explicit.token() == "abc.def.ghi"
    monkeypatch.setenv("AUTHGATE_TOKEN", "from.the.env")
    monkeypatch.setenv("AUTHGATE_BASE_URL", "https://p.example")
    env_client = Client()
    assert env_client.credential_source.kind == "AUTHGATE_TOKEN"
    assert env_client.base_url == "https://p.example" and env_client.token() == "from.the.env"
    monkeypatch.setenv("AUTHGATE_TOKEN", "")
    with pytest.raises(CredentialSourceError, match="AUTHGATE_TOKEN is empty"):
        Client()
    monkeypatch.delenv("AUTHGATE_TOKEN")
    monkeypatch.delenv("AUTHGATE_BASE_URL")
    monkeypatch.setenv("AUTHGATE_TOKEN_FILE", str(tmp_path / "t"))
    (tmp_path / "t").write_text("file.token.x")
    from authgate.client.errors import UsageError

    with pytest.raises(UsageError, match="no base URL"):
        Client()  # a token, but no platform to send it to


def test_token_file_follows_kubelet_style_swaps(tmp_path: Path) -> None:
    """The kubelet's atomic writer: token -> ..data/token, ..data -> a timestamped dir."""

    def publish(value: str, n: int) -> None:
        target = tmp_path / f"..ts{n}"
        target.mkdir()
        (target / "token").write_text(value)
        link = tmp_path / "..data_tmp"
        link.symlink_to(target.name)
        os.replace(link, tmp_path / "..data")

    publish("first.token.a", 1)
    (tmp_path / "token").symlink_to("..data/token")
    source = env_source({"AUTHGATE_TOKEN_FILE": str(tmp_path / "token")})
    assert source is not None and isinstance(source[1], TokenFile)
    token_file = source[1]
    assert token_file.read() == "first.token.a"
    publish("second.token.b", 2)
    assert token_file.read() == "second.token.b"
    # a non-atomic writer's half-written moment keeps the last good token
    (tmp_path / "..ts2" / "token").write_text("")
    assert token_file.read() == "second.token.b"


def test_token_into_closed_pipe(cli: Cli) -> None:
    """`authgate token --decode | head -c 20` with far more output than a pipe holds."""
    big = jwt_like(groups=[f"group-{i:05d}" for i in range(6000)])
    proc = subprocess.run(
        f"{PYTHON} -m authgate token --decode | head -c 20",
        shell=True,
        capture_output=True,
        text=True,
        timeout=60,
        env=cli.env({"AUTHGATE_TOKEN": big}),
    )
    assert len(proc.stdout) == 20
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr, proc.stderr
    assert "Exception ignored" not in proc.stderr


def test_status_when_auth_is_off(cli: Cli, start_proxy: Callable[[dict[str, Any]], str]) -> None:
    base = start_proxy(
        {
            "apiVersion": "authgate.io/v1alpha1",
            "kind": "ProxyConfig",
            "auth_enabled": False,
            "server": {"engine": "lean"},
            "listen": {"host": "127.0.0.1", "port": free_port()},
            "admin": {"host": "127.0.0.1", "port": free_port()},
            "upstream": {"url": f"http://127.0.0.1:{free_port()}"},
        }
    )
    assert cli.run("login", "--base-url", base).returncode == 0
    status = cli.run("status")
    assert status.returncode == 0, status.stdout + status.stderr
    assert f"Authentication is disabled on {base}" in status.stdout
    assert "not logged in" not in status.stdout + status.stderr

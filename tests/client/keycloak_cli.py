"""Shared helpers of the client tests against the real proxy and Keycloak
(``test_cli_keycloak*.py``, ``test_workload_keycloak.py``, ``test_exchange_keycloak.py``).

A login through the CLI (``--base-url`` and ``--ca-file`` of the platform), a
device login left waiting, a call through the proxy to the demo upstream that
echoes the identity headers it received, the stored expiry rewritten so the next
``token`` or ``refresh`` must renew, a Python script run with the CLI's config,
a proxy config for Keycloak, and SDK calls made from threads.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import yaml

from ..support.ports import free_port
from .client_harness import Cli, LineReader, proxy_document

LINK = r"Or open this link, which carries the code: (\S+)"


def login(cli: Cli, platform: Any, *args: str, **run: Any) -> subprocess.CompletedProcess[str]:
    """``authgate login --base-url <platform> --ca-file <Keycloak's CA> ARGS``."""
    return cli.run(
        "login", "--base-url", platform.base_url, "--ca-file", platform.ca_file, *args, **run
    )


def try_password_login(
    cli: Cli, platform: Any, username: str, password: str, *extra: str, **run: Any
) -> subprocess.CompletedProcess[str]:
    """A password login with the password on stdin, whatever its outcome."""
    return login(
        cli,
        platform,
        "--username",
        username,
        "--password-stdin",
        *extra,
        input=password + "\n",
        **run,
    )


def password_login(
    cli: Cli, platform: Any, user: Any, *extra: str
) -> subprocess.CompletedProcess[str]:
    result = try_password_login(cli, platform, user.username, user.password, *extra)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


@contextmanager
def device_login(cli: Cli, platform: Any) -> Iterator[tuple[subprocess.Popen[str], LineReader]]:
    """``authgate login --no-browser`` running, with its stderr; killed if still running."""
    proc = cli.start(
        "login", "--base-url", platform.base_url, "--ca-file", platform.ca_file, "--no-browser"
    )
    try:
        yield proc, LineReader(proc.stderr)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


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


def run_python(cli: Cli, script: str) -> subprocess.CompletedProcess[str]:
    """``python -c SCRIPT`` with the CLI's environment (so the SDK reads its config)."""
    return subprocess.run(
        [cli.argv([])[0], "-c", script], capture_output=True, text=True, env=cli.env(), timeout=60
    )


def keycloak_proxy_document(
    keycloak: Any, upstream: str, *, audience: Sequence[str], default_scopes: str
) -> dict[str, Any]:
    """The proxy config for Keycloak's realm and the CLI client, on two free ports."""
    return proxy_document(
        port=free_port(),
        admin_port=free_port(),
        upstream=upstream,
        issuer=keycloak.issuer,
        client_id=keycloak.cli_client_id,
        audience=audience,
        ca_file=str(keycloak.ca_file),
        default_scopes=default_scopes,
    )


@dataclass
class Calls:
    """What :func:`calling_in_threads` saw: (monotonic time, result) per call, failures."""

    seen: list[tuple[float, str]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


@contextmanager
def calling_in_threads(
    call: Callable[[], str], threads: int = 3, pause: float = 0.0
) -> Iterator[Calls]:
    """``call()`` again and again from ``threads`` threads until the block ends."""
    calls = Calls()
    stop = threading.Event()

    def run() -> None:
        while not stop.is_set():
            try:
                calls.seen.append((time.monotonic(), call()))
            except Exception as exc:  # any failure counts
                calls.failures.append(repr(exc))
            if pause:
                time.sleep(pause)

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    try:
        yield calls
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=30)

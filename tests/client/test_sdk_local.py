"""How ``Client`` picks its platform and token, and where it refuses to send it.

A local canned server stands for the platform and records what it receives;
the stored logins are quickstart-style tokens, so no IdP is involved.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from authgate.client import Client, Forbidden, NotLoggedIn, UsageError
from authgate.client.store import ClientConfig, Cluster, ConfigStore, Context
from authgate.client.tokens import TokenSet
from tests.support.httpserver import LoopbackHTTPServer, Request


class Recorder(LoopbackHTTPServer):
    """Answers 200 (or 403 on /forbidden) and records each Authorization header."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str | None]] = []

        def respond(request: Request) -> tuple[int, bytes]:
            self.seen.append((request.path, request.headers.get("Authorization")))
            if request.path == "/forbidden":
                return 403, b'{"reason": "insufficient_scope"}'
            return 200, b"{}"

        super().__init__(respond)


@pytest.fixture
def platforms() -> Iterator[tuple[Recorder, Recorder]]:
    a, b = Recorder(), Recorder()
    yield a, b
    a.close()
    b.close()


def config_file(tmp_path: Path, a: str, b: str) -> Path:
    store = ConfigStore(tmp_path / "config.yaml")
    config = ClientConfig()
    for name, url in (("a", a), ("b", b)):
        config.clusters[name] = Cluster(base_url=url)
        config.users[name] = TokenSet(
            access_token=f"token-{name}",
            grant="unsigned",
            email=f"{name}@example.com",
            expires_at=time.time() + 3600,
        )
        config.contexts[name] = Context(cluster=name, user=name)
    config.current_context = "a"
    store.save(config)
    return store.path


def test_no_arguments_uses_the_current_context(
    tmp_path: Path, platforms: tuple[Recorder, Recorder]
) -> None:
    a, b = platforms
    path = config_file(tmp_path, a.url, b.url)
    with Client(config_file=path) as client:
        assert client.base_url == a.url
        client.get("/x")
    assert a.seen == [("/x", "Bearer token-a")]


def test_base_url_picks_the_matching_context(
    tmp_path: Path, platforms: tuple[Recorder, Recorder]
) -> None:
    a, b = platforms
    path = config_file(tmp_path, a.url, b.url)
    with Client(b.url + "/", config_file=path) as client:
        client.get("/y")
    assert b.seen == [("/y", "Bearer token-b")] and a.seen == []


def test_a_token_is_never_sent_to_another_platform(
    tmp_path: Path, platforms: tuple[Recorder, Recorder]
) -> None:
    a, b = platforms
    path = config_file(tmp_path, a.url, b.url)
    with pytest.raises(UsageError, match="belongs to"):
        Client(b.url, context="a", config_file=path)
    with pytest.raises(NotLoggedIn, match=r"not logged in to http://127\.0\.0\.1:9"):
        Client("http://127.0.0.1:9", config_file=path)
    with Client(config_file=path) as client, pytest.raises(UsageError, match="refusing"):
        client.get(b.url + "/steal")
    assert b.seen == []
    with Client(config_file=path) as client:
        client.get(a.url + "/absolute-on-the-platform")
    assert a.seen == [("/absolute-on-the-platform", "Bearer token-a")]


def test_explicit_token_and_errors(tmp_path: Path, platforms: tuple[Recorder, Recorder]) -> None:
    a, _ = platforms
    with Client(a.url, access_token="explicit", config_file=tmp_path / "none.yaml") as client:
        client.get("/z")
        with pytest.raises(Forbidden) as caught:
            client.get("/forbidden")
    assert caught.value.status_code == 403 and caught.value.reason == "insufficient_scope"
    assert a.seen == [("/z", "Bearer explicit"), ("/forbidden", "Bearer explicit")]
    with pytest.raises(NotLoggedIn):
        Client(config_file=tmp_path / "none.yaml")

"""When the CLI and SDK renew, and how concurrent renewals share one result.

Quickstart (unsigned) logins renew by re-minting locally, so these run the real
Session code end to end with no network: only the token's stored expiry is set
by the test to place it inside or outside each margin.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from authgate.client.errors import NotLoggedIn, SessionExpired
from authgate.client.refresh import CLI_REFRESH_MARGIN, SDK_REFRESH_MARGIN, Session
from authgate.client.store import ClientConfig, Cluster, ConfigStore, Context
from authgate.client.tokens import TokenSet


def store_with(tmp_path: Path, seconds_left: float, grant: str = "unsigned") -> ConfigStore:
    store = ConfigStore(tmp_path / "config.yaml")
    config = ClientConfig()
    config.clusters["qs"] = Cluster(base_url="http://127.0.0.1:9")
    config.users["qs"] = TokenSet(
        access_token="old.token.",
        expires_at=time.time() + seconds_left,
        grant=grant,
        email="dev@example.com",
    )
    config.contexts["qs"] = Context(cluster="qs", user="qs")
    config.current_context = "qs"
    store.save(config)
    return store


def test_margins_are_the_documented_ones() -> None:
    assert CLI_REFRESH_MARGIN == 300
    assert SDK_REFRESH_MARGIN == 60


def test_sdk_keeps_a_token_with_two_minutes_left_cli_renews_it(tmp_path: Path) -> None:
    store = store_with(tmp_path, 120)
    session = Session(store)
    assert session.token(SDK_REFRESH_MARGIN).tokens.access_token == "old.token."
    renewed = session.token(CLI_REFRESH_MARGIN).tokens
    assert renewed.access_token != "old.token."
    assert renewed.seconds_left() is not None and renewed.seconds_left() > 23 * 3600
    # Persisted, mode kept, and reused by a new session without another renewal.
    assert store.load().users["qs"].access_token == renewed.access_token
    assert Session(store).token(CLI_REFRESH_MARGIN).tokens.access_token == renewed.access_token


def test_sdk_renews_under_sixty_seconds(tmp_path: Path) -> None:
    store = store_with(tmp_path, 30)
    assert Session(store).token(SDK_REFRESH_MARGIN).tokens.access_token != "old.token."


def test_renewal_after_401_reuses_a_token_another_process_stored(tmp_path: Path) -> None:
    store = store_with(tmp_path, 3600)
    session = Session(store)
    # Another process renewed meanwhile: the file holds a different token.
    with store.edit() as config:
        config.users["qs"] = TokenSet(
            access_token="newer.token.",
            expires_at=time.time() + 3600,
            grant="unsigned",
            email="dev@example.com",
        )
    assert session.refresh(stale="old.token.").tokens.access_token == "newer.token."
    # The rejected token is still the stored one: renew.
    assert session.refresh(stale="newer.token.").tokens.access_token != "newer.token."


def test_threads_share_one_renewal(tmp_path: Path) -> None:
    store = store_with(tmp_path, 10)
    session = Session.shared(store)
    assert Session.shared(store) is session
    results: list[str] = []

    def worker() -> None:
        results.append(session.token(SDK_REFRESH_MARGIN).tokens.access_token)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(results) == 8
    assert len(set(results)) == 1 and results[0] != "old.token."


def test_no_refresh_token_means_log_in_again(tmp_path: Path) -> None:
    store = store_with(tmp_path, 10, grant="password")
    with pytest.raises(SessionExpired, match="log in again"):
        Session(store).token(SDK_REFRESH_MARGIN)


def test_not_logged_in(tmp_path: Path) -> None:
    with pytest.raises(NotLoggedIn, match="authgate login --base-url"):
        Session(ConfigStore(tmp_path / "empty.yaml")).token(SDK_REFRESH_MARGIN)

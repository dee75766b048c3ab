"""The config file: round trip, permissions, corruption, atomicity, locking (pure, local)."""

from __future__ import annotations

import multiprocessing
import os
import stat
from pathlib import Path

import pytest
import yaml

from authgate.client.errors import ConfigFileError
from authgate.client.store import ClientConfig, Cluster, ConfigStore, Context, default_path
from authgate.client.tokens import TokenSet


def sample() -> ClientConfig:
    config = ClientConfig()
    config.clusters["dev"] = Cluster(base_url="https://platform.example", ca_file="/ca.pem")
    config.users["dev"] = TokenSet(
        access_token="a.b.c",
        refresh_token="r1",
        expires_at=123.0,
        scope="openid platform:read",
        grant="password",
    )
    config.contexts["dev"] = Context(cluster="dev", user="dev")
    config.current_context = "dev"
    return config


def test_round_trip_and_private_mode(tmp_path: Path) -> None:
    store = ConfigStore(tmp_path / "sub" / "config.yaml")
    store.save(sample())
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.path.parent.stat().st_mode) == 0o700
    loaded = store.load()
    assert loaded == sample()
    document = yaml.safe_load(store.path.read_text())
    assert document["kind"] == "ClientConfig"
    assert document["contexts"] == [{"name": "dev", "context": {"cluster": "dev", "user": "dev"}}]


def test_missing_file_is_empty(tmp_path: Path) -> None:
    assert ConfigStore(tmp_path / "none.yaml").load() == ClientConfig()


def test_path_from_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AUTHGATE_CONFIG", str(tmp_path / "x.yaml"))
    assert default_path() == tmp_path / "x.yaml"
    monkeypatch.delenv("AUTHGATE_CONFIG")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert default_path() == tmp_path / "xdg" / "authgate" / "config.yaml"


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_readable_by_others_is_refused(tmp_path: Path, mode: int) -> None:
    store = ConfigStore(tmp_path / "config.yaml")
    store.save(sample())
    os.chmod(store.path, mode)
    with pytest.raises(ConfigFileError) as caught:
        store.load()
    assert f"chmod 600 {store.path}" in str(caught.value)
    assert "a.b.c" not in str(caught.value)


@pytest.mark.parametrize(
    ("text", "expect"),
    [
        ("clusters: [unclosed\n", "not valid YAML at line"),
        ("- just\n- a list\n", "top level: must be a mapping"),
        (
            "users:\n  - name: u\n    user: {refresh_token: x}\n",
            "users[0].user.access_token: missing",
        ),
        ("contexts:\n  - name: c\n    context: {cluster: c}\n", "contexts[0].context"),
        ("clusters: {a: b}\n", "clusters: must be a list"),
    ],
)
def test_corrupt_is_refused_with_location(tmp_path: Path, text: str, expect: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    os.chmod(path, 0o600)
    with pytest.raises(ConfigFileError) as caught:
        ConfigStore(path).load()
    assert expect in str(caught.value)
    assert "mv " in str(caught.value)


def test_atomic_write_leaves_no_temp_files(tmp_path: Path) -> None:
    store = ConfigStore(tmp_path / "config.yaml")
    for _ in range(5):
        store.save(sample())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.yaml"]


def _bump(path: str, rounds: int) -> None:
    store = ConfigStore(path)
    for _ in range(rounds):
        with store.edit() as config:
            tokens = config.users["dev"]
            count = int(tokens.refresh_token or "r0")
            config.users["dev"] = TokenSet(
                access_token=tokens.access_token, refresh_token=str(count + 1)
            )


def test_concurrent_edits_lose_nothing(tmp_path: Path) -> None:
    """Four processes each increment a counter 25 times under the lock: 100, no corruption."""
    store = ConfigStore(tmp_path / "config.yaml")
    config = sample()
    config.users["dev"] = TokenSet(access_token="a", refresh_token="0")
    store.save(config)
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_bump, args=(str(store.path), 25)) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
        assert worker.exitcode == 0
    assert store.load().users["dev"].refresh_token == "100"

"""Config document: parse, validate (every error at once, with paths), env
overrides, presets and round-trip."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from authgate.core.config import (
    HeaderConfig,
    ProxyConfig,
    config_to_document,
    load_config,
    parse_config,
)
from authgate.core.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[2] / "proxy" / "example-config.yaml"


@pytest.fixture
def doc() -> dict[str, Any]:
    return yaml.safe_load(EXAMPLE.read_text())


def errors_of(document: dict[str, Any], env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(document, env)
    return info.value.errors


def test_example_loads() -> None:
    cfg = load_config(EXAMPLE)
    assert cfg.oidc.issuer == "https://idp.example.com/realms/platform"
    assert cfg.oidc.effective_audience == ("authgate-cli",)
    assert cfg.oidc.issuers == ("https://idp.example.com/realms/platform",)
    assert cfg.authorization.rules[0].read_scopes == ("files:read",)
    assert cfg.tokens.leeway_seconds == 60.0
    assert cfg.headers.name_for("principal_id") == "X-NMP-Principal-Id"


def test_round_trip(doc: dict[str, Any]) -> None:
    cfg = parse_config(doc)
    rendered = config_to_document(cfg)
    assert rendered["apiVersion"] == "authgate.io/v1alpha1"
    assert rendered["kind"] == "ProxyConfig"
    assert parse_config(yaml.safe_load(yaml.safe_dump(rendered))) == cfg


def test_every_error_reported_with_path(doc: dict[str, Any]) -> None:
    doc["oidc"]["isuer"] = "x"
    doc["tokens"]["leeway_seconds"] = "5"
    doc["tokens"]["algorithms"] = ["HS256", "rs256", "none"]
    doc["authorization"]["rules"] += [
        {"path_prefix": "/a/"},
        {"path_prefix": "/b/"},
        {"path_prefix": "/c/", "read_scopes": []},
    ]
    doc["upstream"]["url"] = "ftp://x"
    doc["headers"]["preset"] = "nmp"
    doc["server"]["workers"] = True
    errs = errors_of(doc)
    assert "oidc.isuer: unknown key (did you mean 'issuer'?)" in errs
    assert "tokens.leeway_seconds: expected a number, got a string" in errs
    assert any(e.startswith("tokens.algorithms[0]: symmetric algorithm 'HS256'") for e in errs)
    assert any(e.startswith("tokens.algorithms[1]:") and "'RS256'" in e for e in errs)
    assert "tokens.algorithms[2]: 'none' is allowed in quickstart mode only" in errs
    assert any(e.startswith("authorization.rules[3].read_scopes: must not be empty") for e in errs)
    assert any(e.startswith("upstream.url: must be an absolute") for e in errs)
    assert any(e.startswith("headers.preset:") and "nemo" in e for e in errs)
    assert "server.workers: expected an integer, got a boolean" in errs
    assert len(errs) == 9


def test_api_version_and_kind_checked(doc: dict[str, Any]) -> None:
    doc["apiVersion"] = "v1"
    del doc["kind"]
    errs = errors_of(doc)
    assert errs[0].startswith("apiVersion: must be 'authgate.io/v1alpha1'")
    assert errs[1].startswith("kind: must be 'ProxyConfig'")


@pytest.mark.parametrize(
    ("issuer", "ok"),
    [
        ("https://idp.example.com/realms/x", True),
        ("http://127.0.0.1:8443/realms/x", True),
        ("http://localhost/realms/x", True),
        ("http://idp.example.com/realms/x", False),
        ("https://idp.example.com/?a=b", False),
        ("https://user:pw@idp.example.com/", False),
        ("idp.example.com", False),
        ("https://idp.example.com/ x", False),
    ],
)
def test_issuer_urls(doc: dict[str, Any], issuer: str, ok: bool) -> None:
    doc["oidc"]["issuer"] = issuer
    if ok:
        assert parse_config(doc).oidc.issuer == issuer
    else:
        assert any(e.startswith("oidc.issuer:") for e in errors_of(doc))


def test_issuer_and_client_required_unless_quickstart(doc: dict[str, Any]) -> None:
    del doc["oidc"]["issuer"]
    doc["oidc"]["client_id"] = ""
    errs = errors_of(doc)
    assert "oidc.issuer: required when auth is enabled" in errs
    assert "oidc.client_id: required when auth is enabled" in errs
    doc["quickstart"]["enabled"] = True
    assert parse_config(doc).quickstart.enabled


def test_quickstart_loopback_only(doc: dict[str, Any]) -> None:
    doc["quickstart"]["enabled"] = True
    doc["listen"]["host"] = "0.0.0.0"
    errs = errors_of(doc)
    assert len(errs) == 1 and errs[0].startswith("listen.host: quickstart mode listens on loopback")
    doc["quickstart"]["allow_non_loopback"] = True
    assert parse_config(doc).listen.host == "0.0.0.0"
    for host in ("::1", "127.0.0.2", "localhost"):
        doc["listen"]["host"] = host
        doc["quickstart"]["allow_non_loopback"] = False
        assert parse_config(doc).listen.host == host


def test_none_alg_allowed_in_quickstart_list(doc: dict[str, Any]) -> None:
    doc["quickstart"]["enabled"] = True
    doc["tokens"]["algorithms"] = ["RS256", "none"]
    assert parse_config(doc).tokens.algorithms == ("RS256", "none")


def test_env_overrides(doc: dict[str, Any]) -> None:
    env = {
        "AUTHGATE__OIDC__ISSUER": "https://other.example/realms/y",
        "AUTHGATE__OIDC__AUDIENCE": '["api://a", "api://b"]',
        "AUTHGATE__AUTH_ENABLED": "False",
        "AUTHGATE__LISTEN__PORT": "9999",
        "AUTHGATE__KEYS__CA_FILE": "",
        "AUTHGATE__HEADERS__STRIP": "X-Debug",
        "AUTHGATE_UNRELATED": "ignored",
        "PATH": "/bin",
    }
    cfg = parse_config(doc, env)
    assert cfg.oidc.issuer == "https://other.example/realms/y"
    assert cfg.oidc.audience == ("api://a", "api://b")
    assert cfg.oidc.effective_audience == ("api://a", "api://b")
    assert cfg.auth_enabled is False
    assert cfg.listen.port == 9999
    assert cfg.keys.ca_file is None
    assert cfg.headers.strip == ("X-Debug",)
    assert doc["oidc"]["issuer"] == "https://idp.example.com/realms/platform"  # not mutated


def test_env_override_errors_name_the_variable(doc: dict[str, Any]) -> None:
    env = {
        "AUTHGATE__OIDC__ISUER": "x",
        "AUTHGATE__LISTEN__PORT": "not-json",
        "AUTHGATE__KEYS__REFRESH_JITTER": "2",
        "AUTHGATE__OIDC": "x",
    }
    errs = errors_of(doc, env)
    assert "env AUTHGATE__OIDC__ISUER: no setting 'oidc.isuer' (did you mean 'issuer'?)" in errs
    assert "env AUTHGATE__LISTEN__PORT: not valid JSON for this setting" in errs
    jitter = "keys.refresh_jitter: must be between 0 and 0.99"
    assert f"{jitter} (from AUTHGATE__KEYS__REFRESH_JITTER)" in errs
    assert any(e.startswith("env AUTHGATE__OIDC: 'oidc' is a section") for e in errs)
    assert len(errs) == 4


def test_env_creates_missing_section() -> None:
    doc = {"apiVersion": "authgate.io/v1alpha1", "kind": "ProxyConfig"}
    env = {"AUTHGATE__OIDC__ISSUER": "https://idp.example", "AUTHGATE__OIDC__CLIENT_ID": "c"}
    assert parse_config(doc, env).oidc.client_id == "c"


def test_header_presets() -> None:
    nemo = HeaderConfig()
    assert [nemo.name_for(s) for s in ("principal_id", "email", "groups", "scopes")] == [
        "X-NMP-Principal-Id",
        "X-NMP-Principal-Email",
        "X-NMP-Principal-Groups",
        "X-NMP-Scopes",
    ]
    other = HeaderConfig(preset="authgate", email="X-User-Mail")
    assert [other.name_for(s) for s in ("principal_id", "email", "groups", "scopes")] == [
        "X-Auth-Request-User",
        "X-User-Mail",
        "X-Auth-Request-Groups",
        "X-Auth-Request-Scopes",
    ]


def test_header_names_validated(doc: dict[str, Any]) -> None:
    doc["headers"]["email"] = "X Bad"
    doc["headers"]["groups"] = "x-nmp-principal-id"
    doc["headers"]["scopes"] = "Authorization"
    errs = errors_of(doc)
    assert any(e.startswith("headers.email: not a valid HTTP header name") for e in errs)
    assert any(e.startswith("headers.groups:") and "principal_id" in e for e in errs)
    assert any(e.startswith("headers.scopes:") and "reserved" in e for e in errs)


def test_paths_validated(doc: dict[str, Any]) -> None:
    doc["authorization"]["public_paths"] = ["/ok/", "nope", "/a//b", "/x/%2e%2e/y"]
    doc["authorization"]["rules"].append({"path_prefix": "/apis/files/"})
    errs = errors_of(doc)
    assert any(e.startswith("authorization.public_paths[1]: must start with '/'") for e in errs)
    assert any(e.startswith("authorization.public_paths[2]: not a safe path") for e in errs)
    assert any(e.startswith("authorization.public_paths[3]: not a safe path") for e in errs)
    assert any(e.startswith("authorization.rules[1].path_prefix: same prefix") for e in errs)
    assert len(errs) == 4


def test_load_config_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("oidc: [unclosed\n")
    with pytest.raises(ConfigError) as info:
        load_config(bad)
    assert "line" in info.value.errors[0]
    with pytest.raises(ConfigError):
        load_config(tmp_path / "missing.yaml")
    listy = tmp_path / "list.yaml"
    listy.write_text("- a\n")
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_config(listy)


def test_defaults_are_frozen() -> None:
    cfg = ProxyConfig()
    with pytest.raises(AttributeError):
        cfg.auth_enabled = False  # type: ignore[misc]
    assert ProxyConfig() == cfg


def test_scope_syntax(doc: dict[str, Any]) -> None:
    doc["authorization"]["read_scopes"] = ["platform:read", "two words", 'quo"te']
    errs = errors_of(copy.deepcopy(doc))
    assert len(errs) == 2
    assert errs[0].startswith("authorization.read_scopes[1]: not a valid scope token")


def test_docs_config_reference_is_current() -> None:
    from authgate.core.reference import render_reference

    text = (EXAMPLE.parents[1] / "docs" / "config.md").read_text()
    assert render_reference() in text


def test_example_config_mentions_every_field() -> None:
    import dataclasses

    from authgate.core.config import field_types

    text = EXAMPLE.read_text()
    missing = []

    def walk(cls: type) -> None:
        for name, tp in field_types(cls).items():
            if f"{name}:" not in text:
                missing.append(name)
            if dataclasses.is_dataclass(tp) and isinstance(tp, type):
                walk(tp)

    walk(ProxyConfig)
    assert missing == []

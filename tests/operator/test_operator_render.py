"""spec -> ProxyConfig: rendered through the proxy's own validator."""

from __future__ import annotations

import pytest
import yaml

from authgate.core.config import parse_config
from authgate.operator.render import (
    CONFIG_HASH_ANNOTATION,
    VERIFIED_GENERATION_ANNOTATION,
    RenderError,
    configmap_manifest,
    render,
    verified_generation,
)
from authgate.operator.settings import OperatorSettings

SETTINGS = OperatorSettings()
SPEC = {
    "issuer": "https://idp.example.com/realms/platform",
    "clientId": "authgate-cli",
    "audience": ["api://nmp"],
    "scopePrefix": "api://nmp/",
    "claims": {"groups": "roles"},
    "headers": {"preset": "authgate", "strip": ["X-Debug"]},
    "authorization": {
        "publicPaths": ["/healthz"],
        "rules": [{"pathPrefix": "/apis/files/", "readScopes": ["files:read"], "groups": ["ops"]}],
    },
    "tuning": {"leewaySeconds": 30, "tokenCacheSize": 5, "keyRefreshIntervalSeconds": 60},
    "default": True,
}
PROVIDER = {"metadata": {"name": "corp", "namespace": "platform", "uid": "u-1"}, "spec": SPEC}


def test_spec_renders_into_the_config_the_proxy_parses() -> None:
    rendered = render(SPEC, SETTINGS, ca_pem=None)
    config = parse_config(yaml.safe_load(rendered.data["config.yaml"]))
    assert config == rendered.config
    assert config.oidc.issuer == SPEC["issuer"]
    assert config.oidc.audience == ("api://nmp",)
    assert config.oidc.scope_prefix == "api://nmp/"
    assert config.tokens.groups_claim == "roles"
    assert config.tokens.leeway_seconds == 30.0
    assert config.tokens.cache_size == 5
    assert config.keys.refresh_interval_seconds == 60.0
    assert config.headers.preset == "authgate" and config.headers.strip == ("X-Debug",)
    rule = config.authorization.rules[0]
    assert (rule.path_prefix, rule.read_scopes) == ("/apis/files/", ("files:read",))
    assert rule.groups == ("ops",)
    assert rule.write_scopes is None
    assert config.listen.port == SETTINGS.sidecar.listen_port and config.listen.host == "0.0.0.0"
    assert config.admin.port == SETTINGS.sidecar.admin_port
    assert config.quickstart.enabled is False
    assert config.keys.ca_file is None and "ca.crt" not in rendered.data


def test_ca_bundle_is_shipped_and_pointed_at() -> None:
    rendered = render(SPEC, SETTINGS, ca_pem="-----BEGIN CERTIFICATE-----\n...\n")
    assert rendered.data["ca.crt"].startswith("-----BEGIN")
    assert rendered.config.keys.ca_file == "/etc/authgate/ca.crt"


def test_hash_follows_content() -> None:
    a = render(SPEC, SETTINGS, None)
    assert render(dict(SPEC), SETTINGS, None).hash == a.hash
    b = render({**SPEC, "clientId": "other"}, SETTINGS, None)
    assert b.hash != a.hash


def test_errors_name_spec_paths() -> None:
    bad = {
        **SPEC,
        "issuer": "ftp://idp",
        "authorization": {"rules": [{"pathPrefix": "/a/", "readScopes": []}]},
    }
    with pytest.raises(RenderError) as info:
        render(bad, SETTINGS, None)
    text = str(info.value)
    assert "spec.issuer:" in text
    assert "spec.authorization.rules[0].readScopes:" in text


def test_configmap_has_owner_reference_and_hash() -> None:
    rendered = render(SPEC, SETTINGS, None)
    cm = configmap_manifest(PROVIDER, rendered)
    meta = cm["metadata"]
    assert meta["name"] == "authgate-corp" and meta["namespace"] == "platform"
    owner = meta["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["uid"], owner["controller"]) == (
        "OIDCProvider",
        "corp",
        "u-1",
        True,
    )
    assert meta["annotations"][CONFIG_HASH_ANNOTATION] == rendered.hash
    assert cm["data"] == rendered.data


def test_verified_generation_round_trips_through_the_configmap() -> None:
    rendered = render(SPEC, SETTINGS, None)
    unverified = configmap_manifest(PROVIDER, rendered)
    # always present, so a patch over a verified ConfigMap cannot leave a stale value
    assert unverified["metadata"]["annotations"][VERIFIED_GENERATION_ANNOTATION] == ""
    assert verified_generation(unverified, "u-1") is None
    verified = configmap_manifest(PROVIDER, rendered, verified_generation=7)
    assert verified_generation(verified, "u-1") == 7
    # another object of the same name (deleted and re-created): nothing to keep
    assert verified_generation(verified, "u-2") is None
    assert verified_generation(None, "u-1") is None

"""spec.browser: rendering, CRD schema, the sidecar's Secret mounts, and the
session key Secret (creation, never overwritten, rotation with overlap)."""

from __future__ import annotations

import base64
from typing import Any

from authgate.core.config import parse_config
from authgate.core.session.crypto import CURRENT_FILE, parse_key_material
from authgate.operator.browser import (
    CLIENT_SECRET_FILE,
    ROTATE_ANNOTATION,
    SESSION_KEYS_DIR,
    add_browser_mounts,
    ensure_session_secret,
    new_key_data,
    rotated_key_data,
)
from authgate.operator.crd import spec_schema
from authgate.operator.injection import ProviderRef, inject
from authgate.operator.render import render, render_document
from authgate.operator.settings import OperatorSettings

SETTINGS = OperatorSettings()
SPEC: dict[str, Any] = {
    "issuer": "https://idp.example.com/realms/platform",
    "clientId": "authgate-cli",
    "browser": {
        "enabled": True,
        "clientId": "authgate-web",
        "clientSecretRef": {"name": "web-client", "key": "secret"},
        "cookieDomain": "example.com",
        "sessionLifetimeSeconds": 3600,
        "neverRedirect": ["/api/"],
    },
}


def test_spec_browser_renders_into_the_config_with_mounted_paths() -> None:
    doc = render_document(SPEC, SETTINGS)
    config = parse_config(doc)
    b = config.browser
    assert b.enabled and b.client_id == "authgate-web" and b.cookie_domain == "example.com"
    assert b.session_keys_dir == SESSION_KEYS_DIR and b.client_secret_file == CLIENT_SECRET_FILE
    assert b.never_redirect == ("/api/",) and b.session_lifetime_seconds == 3600
    rendered = render(SPEC, SETTINGS, None)
    text = rendered.data["config.yaml"].replace(CLIENT_SECRET_FILE, "")
    assert "secret" not in text.replace("client_secret_file", "")  # only the mounted file's path


def test_public_client_and_disabled_browser() -> None:
    public = {**SPEC, "browser": {"enabled": True}}
    assert parse_config(render_document(public, SETTINGS)).browser.client_secret_file is None
    off = parse_config(render_document({**SPEC, "browser": {"enabled": False}}, SETTINGS))
    assert not off.browser.enabled and off.browser.session_keys_dir == ""


def test_invalid_browser_spec_names_spec_paths() -> None:
    import pytest

    from authgate.operator.render import RenderError

    bad = {**SPEC, "browser": {"enabled": True, "neverRedirect": ["api"], "cookieDomain": "a b"}}
    with pytest.raises(RenderError) as info:
        render(bad, SETTINGS, None)
    text = "; ".join(info.value.errors)
    assert "spec.browser.neverRedirect[0]" in text and "spec.browser.cookieDomain" in text


def test_crd_schema_has_the_browser_section_and_secret_refs() -> None:
    browser = spec_schema()["properties"]["browser"]
    props = browser["properties"]
    for name in (
        "enabled",
        "clientId",
        "cookieDomain",
        "sessionLifetimeSeconds",
        "neverRedirect",
        "clientSecretRef",
        "sessionKeyRef",
    ):
        assert name in props, name
    assert props["sessionLifetimeSeconds"]["minimum"] == 60
    assert props["clientSecretRef"]["required"] == ["name"]


def test_sidecar_mounts_the_session_keys_and_client_secret() -> None:
    app = {"name": "app", "ports": [{"name": "http", "containerPort": 8000}]}
    pod = {"metadata": {"annotations": {}}, "spec": {"containers": [app]}}
    out = inject(pod, ProviderRef("platform", "corp", "authgate-corp"), SETTINGS.sidecar)
    add_browser_mounts(out, "corp", SPEC, SETTINGS.sidecar.container_name)
    volumes = {v["name"]: v for v in out["spec"]["volumes"]}
    assert volumes["authgate-session-keys"]["secret"]["secretName"] == "corp-authgate-session"
    client = volumes["authgate-browser-client"]["secret"]
    assert client == {
        "secretName": "web-client",
        "items": [{"key": "secret", "path": "client-secret"}],
    }
    sidecar = out["spec"]["initContainers"][0]
    paths = {m["mountPath"]: m for m in sidecar["volumeMounts"]}
    assert paths[SESSION_KEYS_DIR]["readOnly"] is True
    plain = inject(pod, ProviderRef("platform", "corp", "authgate-corp"), SETTINGS.sidecar)
    add_browser_mounts(plain, "corp", {"browser": {"enabled": False}}, "authgate-proxy")
    assert all("secret" not in v for v in plain["spec"]["volumes"])


def test_key_data_and_rotation_keep_an_overlap() -> None:
    first = new_key_data(now=1_000_000)
    assert len(parse_key_material(first[first[CURRENT_FILE]])) == 32
    second = rotated_key_data(first, now=2_000_000)
    assert second[CURRENT_FILE] != first[CURRENT_FILE]
    assert first[CURRENT_FILE] in second  # the previous key still opens cookies
    third = rotated_key_data(second, now=3_000_000, keep=2)
    kids = sorted(k for k in third if k != CURRENT_FILE)
    assert len(kids) == 2 and first[CURRENT_FILE] not in third  # the oldest is retired
    same_second = rotated_key_data(third, now=3_000_000)
    assert same_second[CURRENT_FILE] != third[CURRENT_FILE]


class SecretsInMemory:
    """The three Secret calls of operator.kube, on a dict (the k8s suite runs the real ones)."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], dict[str, Any]] = {}

    async def read_secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.items.get((namespace, name))

    async def create_secret(self, manifest: Any) -> bool:
        key = (manifest["metadata"]["namespace"], manifest["metadata"]["name"])
        if key in self.items:
            return False
        data = {k: base64.b64encode(v.encode()).decode() for k, v in manifest["stringData"].items()}
        self.items[key] = {"metadata": dict(manifest["metadata"]), "data": data}
        return True

    async def patch_secret(self, namespace: str, name: str, patch: Any) -> None:
        item = self.items[(namespace, name)]
        item["metadata"].setdefault("annotations", {}).update(patch["metadata"]["annotations"])
        for k, v in patch["data"].items():
            if v is None:
                item["data"].pop(k, None)
            else:
                item["data"][k] = v


async def test_session_secret_is_created_once_and_rotated_on_request() -> None:
    store = SecretsInMemory()
    provider: dict[str, Any] = {
        "metadata": {"name": "corp", "namespace": "platform", "uid": "u-1", "annotations": {}},
        "spec": {"browser": {"enabled": True}},
    }
    assert await ensure_session_secret(store, provider) == "created"
    secret = store.items[("platform", "corp-authgate-session")]
    assert secret["metadata"]["ownerReferences"][0]["uid"] == "u-1"
    before = dict(secret["data"])
    assert await ensure_session_secret(store, provider) is None  # never overwritten
    assert secret["data"] == before
    provider["metadata"]["annotations"][ROTATE_ANNOTATION] = "2026-12-02"
    assert await ensure_session_secret(store, provider) == "rotated"
    assert await ensure_session_secret(store, provider) is None  # once per annotation value
    current = base64.b64decode(secret["data"][CURRENT_FILE]).decode()
    old = base64.b64decode(before[CURRENT_FILE]).decode()
    assert current != old and old in secret["data"]
    ref = {**provider, "spec": {"browser": {"enabled": True, "sessionKeyRef": {"name": "mine"}}}}
    assert await ensure_session_secret(store, ref) is None  # the user's Secret is left alone

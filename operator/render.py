"""OIDCProvider spec -> ProxyConfig document -> ConfigMap.

Rendering walks :data:`authgate.operator.spec.SPEC_FIELDS`, the same table the
CRD schema is generated from, and validates the result with
:func:`authgate.core.config.parse_config`, the validator the proxy itself runs
at startup: a ConfigMap the operator writes is one the proxy accepts.  Errors
are translated back to spec paths (``spec.clientId: …``) so ``kubectl describe``
names the field the user wrote.

The ConfigMap carries an ownerReference to its provider *and* is deleted
explicitly on provider deletion: a cluster without a garbage collector (such as
a bare API server in tests) must not leak it.  A content hash annotation lets
anyone see at a glance whether two replicas or two pods run the same config.

A second annotation, ``authgate.io/verified-generation``, records which
generation of the provider's spec the data came from *and passed the IdP
checks* (empty: written before any generation passed them).  It lives on the
ConfigMap rather than in the operator's memory so the "last good config" rule
(see :mod:`authgate.operator.reconcile`) survives operator restarts and
fail-overs between replicas.

A third, ``authgate.io/idp-endpoints``, records the IdP endpoints the verified
config was checked against (JSON, as in ``status.endpoints``).  With it the
ConfigMap alone describes what the sidecars accept, so discovery can serve
exactly that while a newer spec fails its checks
(:func:`authgate.operator.discovery.served_entry`).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from authgate.core.config import ProxyConfig, config_to_document, parse_config
from authgate.core.contracts import API_VERSION, CONFIG_FILE_NAME, CONFIG_KIND, PROVIDER_KIND
from authgate.core.errors import ConfigError

from .accesskeys.render import access_key_entry, public_url
from .browser import browser_paths
from .settings import OperatorSettings
from .spec import SPEC_FIELDS, camel

__all__ = [
    "CA_FILE_NAME",
    "CONFIG_HASH_ANNOTATION",
    "ENDPOINTS_ANNOTATION",
    "MANAGED_BY_LABEL",
    "OWNER_LABEL",
    "VERIFIED_GENERATION_ANNOTATION",
    "RenderError",
    "Rendered",
    "config_hash",
    "configmap_manifest",
    "configmap_name",
    "dump_yaml",
    "render",
    "render_document",
    "stored_endpoints",
    "verified_generation",
]

CONFIG_HASH_ANNOTATION = "authgate.io/config-hash"
VERIFIED_GENERATION_ANNOTATION = "authgate.io/verified-generation"
ENDPOINTS_ANNOTATION = "authgate.io/idp-endpoints"
OWNER_LABEL = "authgate.io/oidcprovider"
MANAGED_BY_LABEL = ("app.kubernetes.io/managed-by", "authgate-operator")
CA_FILE_NAME = "ca.crt"
#: Placeholder upstream; the webhook sets the real one per pod (AUTHGATE__UPSTREAM__URL).
PLACEHOLDER_UPSTREAM = "http://127.0.0.1:8080"


class RenderError(Exception):
    """The spec cannot become a valid proxy config; ``errors`` name spec paths."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


@dataclass(frozen=True, slots=True)
class Rendered:
    """A provider's validated config and the ConfigMap data that carries it."""

    config: ProxyConfig
    data: dict[str, str]  # ConfigMap data: config.yaml (+ ca.crt)
    hash: str


class _NoAliasDumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


def dump_yaml(document: Any) -> str:
    """Plain YAML (no anchors/aliases), keys in insertion order."""
    return yaml.dump(document, Dumper=_NoAliasDumper, sort_keys=False, default_flow_style=False)


def configmap_name(provider_name: str) -> str:
    """Name of the ConfigMap rendered for the provider ``provider_name``."""
    return f"authgate-{provider_name}"


def _snake_keys(value: Any) -> Any:
    """camelCase keys of nested objects (path rules) -> the config's snake_case."""
    if isinstance(value, Mapping):
        return {
            re.sub(r"(?<!^)([A-Z])", r"_\1", str(k)).lower(): _snake_keys(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_snake_keys(v) for v in value]
    return value


def _lookup(spec: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = spec
    for part in path:
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def render_document(
    spec: Mapping[str, Any],
    settings: OperatorSettings,
    *,
    has_ca: bool = False,
    provider: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """The ProxyConfig document for ``spec`` (not yet validated); ``provider``
    (namespace, name) adds the access-key issuer entry when the spec enables it."""
    sidecar = settings.sidecar
    doc: dict[str, Any] = {
        "apiVersion": API_VERSION,
        "kind": CONFIG_KIND,
        "listen": {"host": "0.0.0.0", "port": sidecar.listen_port},
        "admin": {"host": "0.0.0.0", "port": sidecar.admin_port},
        "upstream": {"url": PLACEHOLDER_UPSTREAM},
        "quickstart": {"enabled": False},
    }
    for spec_field in SPEC_FIELDS:
        value = _lookup(spec, spec_field.spec)
        if value is None:
            continue
        section, name = spec_field.config
        target = doc.setdefault(section, {}) if section else doc
        target[name] = _snake_keys(value)
    if has_ca:
        doc.setdefault("keys", {})["ca_file"] = f"{sidecar.config_dir}/{CA_FILE_NAME}"
    if provider is not None:
        base = public_url(settings.access_keys, settings.discovery_address, settings.discovery_port)
        entry = access_key_entry(spec, base, *provider)
        if entry is not None:
            doc["issuers"] = [*doc.get("issuers", []), entry]
    browser_paths(spec, doc)
    return doc


def _spec_path(config_path: str) -> str:
    """``authorization.rules[1].read_scopes`` -> ``spec.authorization.rules[1].readScopes``."""
    for spec_field in SPEC_FIELDS:
        section, name = spec_field.config
        prefix = f"{section}.{name}" if section else name
        if config_path == prefix or config_path.startswith((prefix + ".", prefix + "[")):
            rest = config_path[len(prefix) :]
            rest = re.sub(r"(?<=\.)([a-z0-9_]+)", lambda m: camel(m.group(1)), rest)
            return "spec." + ".".join(spec_field.spec) + rest
    return config_path


def config_hash(data: Mapping[str, str]) -> str:
    """sha256 of the ConfigMap data, over a canonical JSON encoding."""
    canonical = json.dumps(dict(data), sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(canonical).hexdigest()


def render(
    spec: Mapping[str, Any],
    settings: OperatorSettings,
    ca_pem: str | None,
    provider: tuple[str, str] | None = None,
) -> Rendered:
    """Validate ``spec`` through the proxy's own validator and build the ConfigMap data.

    Raises :class:`RenderError` listing every problem by spec path.
    """
    document = render_document(spec, settings, has_ca=bool(ca_pem), provider=provider)
    try:
        config = parse_config(document)
    except ConfigError as exc:
        raise RenderError([_translate(e) for e in exc.errors]) from None
    data = {CONFIG_FILE_NAME: dump_yaml(config_to_document(config))}
    if ca_pem:
        data[CA_FILE_NAME] = ca_pem
    return Rendered(config=config, data=data, hash=config_hash(data))


def _translate(error: str) -> str:
    path, sep, message = error.partition(": ")
    return f"{_spec_path(path)}: {message}" if sep else error


def configmap_manifest(
    provider: Mapping[str, Any],
    rendered: Rendered,
    api_version: str = API_VERSION,
    *,
    verified_generation: int | None = None,
    endpoints: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The ConfigMap for ``provider`` (a full object with metadata.name/namespace/uid).

    ``verified_generation``: the provider generation whose spec ``rendered`` came
    from and which passed the IdP checks; ``None`` when it has not (yet).
    ``endpoints``: the IdP endpoints that check found (``status.endpoints`` shape).
    Both annotations are always present, so a patch never leaves a stale value behind.
    """
    meta = provider["metadata"]
    verified = "" if verified_generation is None else str(verified_generation)
    known = json.dumps(dict(endpoints), sort_keys=True) if endpoints else ""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": configmap_name(meta["name"]),
            "namespace": meta["namespace"],
            "labels": {OWNER_LABEL: meta["name"], MANAGED_BY_LABEL[0]: MANAGED_BY_LABEL[1]},
            "annotations": {
                CONFIG_HASH_ANNOTATION: rendered.hash,
                VERIFIED_GENERATION_ANNOTATION: verified,
                ENDPOINTS_ANNOTATION: known,
            },
            "ownerReferences": [
                {
                    "apiVersion": api_version,
                    "kind": PROVIDER_KIND,
                    "name": meta["name"],
                    "uid": meta["uid"],
                    "controller": True,
                    # False: setting it needs extra RBAC (finalizers of the owner) and
                    # buys nothing, as the operator deletes the ConfigMap itself.
                    "blockOwnerDeletion": False,
                }
            ],
        },
        "data": dict(rendered.data),
    }


def verified_generation(configmap: Mapping[str, Any] | None, owner_uid: str) -> int | None:
    """The generation ``configmap`` holds a verified config of, or ``None``.

    ``None`` as well when the ConfigMap is missing, was written before any
    generation passed the IdP checks, or belongs to another object of the same
    name (a provider deleted and re-created: its generations start again at 1).
    """
    if not configmap:
        return None
    meta = configmap.get("metadata") or {}
    owners = meta.get("ownerReferences") or meta.get("owner_references") or []
    if not any(o.get("uid") == owner_uid for o in owners):
        return None
    value = (meta.get("annotations") or {}).get(VERIFIED_GENERATION_ANNOTATION) or ""
    return int(value) if value.isdigit() else None


def stored_endpoints(configmap: Mapping[str, Any] | None) -> dict[str, str]:
    """The IdP endpoints recorded on ``configmap`` (``{}`` if none or unreadable)."""
    annotations = ((configmap or {}).get("metadata") or {}).get("annotations") or {}
    try:
        value = json.loads(annotations.get(ENDPOINTS_ANNOTATION) or "{}")
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}

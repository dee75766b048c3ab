"""Schema-driven parsing and validation of the config document.

The schema *is* the dataclasses in :mod:`.model`: this module walks them through
:mod:`.schema`, so adding a field there is enough to parse, validate the type
and the bounds of, override from the environment and serialise it.  Two passes:

1. **Shape** — every key known (unknown keys get a "did you mean" hint), every
   value of the right type, ``apiVersion``/``kind`` as expected.
2. **Meaning** — first every field's declared :class:`~.schema.Bounds` (ranges,
   choices, the header-name pattern), then what no single field can say: URLs,
   scope syntax, normalised paths, the algorithm allow-list, unique header
   names, the quickstart loopback rule.

Both passes append to one list; nothing stops at the first problem, so the
operator (and the person reading ``kubectl describe``) sees everything at once.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Mapping
from typing import Any, TypeVar

from ..contracts import API_VERSION, CONFIG_KIND
from ..errors import ConfigError, InvalidRequest
from ..paths import normalize_path
from .browser_checks import check_browser
from .checks import SCOPE_RE as _SCOPE_RE
from .checks import check_scopes as _check_scopes
from .checks import check_url as _check_url
from .checks import is_loopback_host
from .env import apply_env_overrides
from .issuer_checks import check_issuers
from .model import (
    ASYMMETRIC_ALGORITHMS,
    HEADER_PRESETS,
    IDENTITY_SLOTS,
    AuthorizationConfig,
    HeaderConfig,
    ProxyConfig,
)
from .schema import (
    ErrorList,
    FieldType,
    check_bounds,
    did_you_mean,
    settings,
)
from .schema import (
    describe_value as _describe,
)

__all__ = ["to_document", "validate_document"]

T = TypeVar("T")

# Header names an identity slot must never take: they carry framing or credentials.
_RESERVED_HEADERS = frozenset(
    {
        "host",
        "authorization",
        "content-length",
        "transfer-encoding",
        "connection",
        "upgrade",
        "te",
        "trailer",
        "keep-alive",
        "proxy-authorization",
        "proxy-connection",
        "cookie",
    }
)


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _convert(value: Any, ft: FieldType, path: str, errors: ErrorList) -> Any:
    """Check ``value`` against the field type ``ft``; return the converted value,
    or ``dataclasses.MISSING`` after recording a type error."""
    if value is None and ft.optional:
        return None
    if ft.section is not None:
        if value is None:
            value = {}
        if not isinstance(value, Mapping):
            errors.type_error(path, f"expected a mapping, got {_describe(value)}")
            return dataclasses.MISSING
        return _build(ft.section, value, path, errors)
    if ft.item is not None:
        if isinstance(value, str) and ft.item.kind == "string":
            value = [value]  # "one or many": a lone string is a one-element list
        if not isinstance(value, list | tuple):
            errors.type_error(path, f"expected a list, got {_describe(value)}")
            return dataclasses.MISSING
        items = []
        for i, item in enumerate(value):
            converted = _convert(item, ft.item, f"{path}[{i}]", errors)
            if converted is not dataclasses.MISSING:
                items.append(converted)
        return tuple(items)
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if ft.kind == "boolean" and isinstance(value, bool):
        return value
    if ft.kind == "integer" and is_number and isinstance(value, int):
        return value
    if ft.kind == "number" and is_number:
        return float(value)
    if ft.kind == "string" and isinstance(value, str):
        return value
    expected = {"boolean": "a boolean", "integer": "an integer", "number": "a number"}
    errors.type_error(path, f"expected {expected.get(ft.kind, 'a string')}, got {_describe(value)}")
    return dataclasses.MISSING


def _build(cls: type[T], data: Mapping[str, Any], path: str, errors: ErrorList) -> T:
    fields = settings(cls)
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        key_path = _join(path, str(key))
        if not isinstance(key, str) or key not in fields:
            errors.type_error(key_path, "unknown key" + did_you_mean(str(key), fields))
            continue
        converted = _convert(value, fields[key].type, key_path, errors)
        if converted is not dataclasses.MISSING:
            kwargs[key] = converted
    return cls(**kwargs)


def _check_bounds(node: Any, path: str, errors: ErrorList) -> None:
    """Every declared :class:`~.schema.Bounds` in the tree below ``node``."""
    for name, item in settings(type(node)).items():
        value = getattr(node, name)
        item_path = _join(path, name)
        if item.bounds is not None:
            check_bounds(value, item.bounds, item_path, errors)
        if item.type.section is not None:
            _check_bounds(value, item_path, errors)
        elif item.type.item is not None and item.type.item.section is not None:
            for i, element in enumerate(value):
                _check_bounds(element, f"{item_path}[{i}]", errors)


def validate_document(document: Mapping[str, Any], env: Mapping[str, str]) -> ProxyConfig:
    """Parse and validate a whole document; raise one :class:`ConfigError`."""
    errors = ErrorList()
    if not isinstance(document, Mapping):
        raise ConfigError([f"<document>: expected a mapping, got {_describe(document)}"])
    data = apply_env_overrides(document, env, errors)
    api_version = data.pop("apiVersion", None)
    kind = data.pop("kind", None)
    if api_version != API_VERSION:
        errors.add("apiVersion", f"must be {API_VERSION!r}, got {api_version!r}")
    if kind != CONFIG_KIND:
        errors.add("kind", f"must be {CONFIG_KIND!r}, got {kind!r}")
    config = _build(ProxyConfig, data, "", errors)
    _check_meaning(config, errors)
    if errors.items:
        raise ConfigError(errors.items)
    return config


def _check_path(value: str, path: str, errors: ErrorList) -> None:
    if not value.startswith("/"):
        errors.add(path, f"must start with '/', got {value!r}")
        return
    try:
        normal = normalize_path(value)
    except InvalidRequest as exc:
        errors.add(path, f"not a safe path: {exc.description}")
        return
    if normal != value:
        errors.add(path, f"must be in normal form ({normal!r})")


def _check_meaning(cfg: ProxyConfig, errors: ErrorList) -> None:
    _check_bounds(cfg, "", errors)
    chk = errors.check
    for section in ("listen", "admin"):
        listener = getattr(cfg, section)
        chk(bool(listener.host.strip()), f"{section}.host", "must not be empty")
    _check_url(cfg.upstream.url, "upstream.url", errors, schemes=("http", "https"), strict=False)

    _check_oidc(cfg, errors)
    _check_tokens(cfg, errors)

    keys = cfg.keys
    chk(
        keys.ca_file is None or bool(keys.ca_file.strip()),
        "keys.ca_file",
        "must not be empty (use null)",
    )

    _check_headers(cfg.headers, errors)
    _check_authorization(cfg.authorization, errors)
    check_issuers(cfg, errors)
    check_browser(cfg, errors, _check_path)

    _check_gateway(cfg, errors)

    if cfg.quickstart.enabled and not cfg.quickstart.allow_non_loopback:
        chk(
            is_loopback_host(cfg.listen.host),
            "listen.host",
            f"quickstart mode listens on loopback only, got {cfg.listen.host!r} "
            "(set quickstart.allow_non_loopback: true to force)",
        )


def _check_gateway(cfg: ProxyConfig, errors: ErrorList) -> None:
    for i, cidr in enumerate(cfg.server.trusted_proxies):
        try:
            ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            errors.add(f"server.trusted_proxies[{i}]", f"not an IP address or CIDR: {cidr!r}")
    gw = cfg.gateway
    prefix = gw.envoy_path_prefix
    if prefix.startswith("/apis/auth/") and not prefix.endswith("/"):
        _check_path(prefix, "gateway.envoy_path_prefix", errors)
    else:
        errors.check(
            False, "gateway.envoy_path_prefix", "must start with /apis/auth/ and not end with '/'"
        )
    errors.check(0 <= gw.cache_size <= 1_000_000, "gateway.cache_size", "must be in [0, 1000000]")
    errors.check(
        0 < gw.cache_ttl_seconds <= 3600, "gateway.cache_ttl_seconds", "must be in (0, 3600]"
    )


def _check_oidc(cfg: ProxyConfig, errors: ErrorList) -> None:
    oidc = cfg.oidc
    needs_idp = cfg.auth_enabled and not cfg.quickstart.enabled
    if oidc.issuer or needs_idp:
        errors.check(bool(oidc.issuer), "oidc.issuer", "required when auth is enabled")
        if oidc.issuer:
            _check_url(oidc.issuer, "oidc.issuer", errors, schemes=("http", "https"), strict=True)
    if needs_idp:
        errors.check(bool(oidc.client_id), "oidc.client_id", "required when auth is enabled")
    for i, iss in enumerate(oidc.additional_issuers):
        ipath = f"oidc.additional_issuers[{i}]"
        _check_url(iss, ipath, errors, schemes=("http", "https"), strict=True)
        errors.check(iss != oidc.issuer, ipath, "duplicates oidc.issuer")
    for i, aud in enumerate(oidc.audience):
        errors.check(bool(aud), f"oidc.audience[{i}]", "must not be empty")
    for name in (
        "jwks_uri",
        "token_endpoint",
        "device_authorization_endpoint",
        "authorization_endpoint",
    ):
        _check_url(
            getattr(oidc, name), f"oidc.{name}", errors, schemes=("http", "https"), strict=True
        )
    resource = oidc.request_resource
    errors.check(
        resource is None
        or ("://" in resource and "#" not in resource and not any(c.isspace() for c in resource)),
        "oidc.request_resource",
        "must be an absolute URI without a fragment (RFC 8707 §2)",
    )
    errors.check(
        oidc.request_audience is None or bool(oidc.request_audience.strip()),
        "oidc.request_audience",
        "must not be empty (use null)",
    )
    for i, scope in enumerate(oidc.default_scopes.split()):
        errors.check(
            bool(_SCOPE_RE.match(scope)),
            "oidc.default_scopes",
            f"word {i + 1} is not a valid scope token: {scope!r}",
        )
    errors.check(
        not any(c.isspace() for c in oidc.scope_prefix),
        "oidc.scope_prefix",
        "must not contain whitespace",
    )


def _check_tokens(cfg: ProxyConfig, errors: ErrorList) -> None:
    tok = cfg.tokens
    path = "tokens.algorithms"
    if path not in errors.bad:
        errors.check(bool(tok.algorithms), path, "must not be empty")
        allowed = set(ASYMMETRIC_ALGORITHMS)
        if cfg.quickstart.enabled:
            allowed.add("none")
        seen: set[str] = set()
        for i, alg in enumerate(tok.algorithms):
            ipath = f"{path}[{i}]"
            if alg in seen:
                errors.add(ipath, f"duplicate algorithm {alg!r}")
            seen.add(alg)
            if alg in allowed:
                continue
            if alg.upper().startswith("HS"):
                errors.add(
                    ipath,
                    f"symmetric algorithm {alg!r} is not allowed: "
                    "the IdP's public keys verify tokens",
                )
            elif alg.lower() == "none":
                errors.add(ipath, "'none' is allowed in quickstart mode only")
            else:
                errors.add(
                    ipath,
                    f"unsupported algorithm {alg!r}" + did_you_mean(alg, ASYMMETRIC_ALGORITHMS),
                )
    for name in ("subject_claim", "email_claim", "groups_claim"):
        errors.check(bool(getattr(tok, name)), f"tokens.{name}", "must not be empty")


def _check_headers(hdr: HeaderConfig, errors: ErrorList) -> None:
    # Names and the preset are checked by their declared bounds; here, the combination.
    seen: dict[str, str] = {}
    for slot in IDENTITY_SLOTS:
        path = f"headers.{slot}"
        override = getattr(hdr, slot)
        if hdr.preset not in HEADER_PRESETS and override is None:
            continue
        name = hdr.name_for(slot)
        key = name.lower().replace("_", "-")
        if key in _RESERVED_HEADERS:
            errors.add(path, f"{name!r} is reserved and cannot carry identity")
        if key in seen:
            errors.add(path, f"{name!r} is also used by headers.{seen[key]}")
        seen.setdefault(key, slot)


def _check_authorization(authz: AuthorizationConfig, errors: ErrorList) -> None:
    for i, public in enumerate(authz.public_paths):
        _check_path(public, f"authorization.public_paths[{i}]", errors)
    _check_scopes(authz.read_scopes, "authorization.read_scopes", errors, allow_empty=True)
    _check_scopes(authz.write_scopes, "authorization.write_scopes", errors, allow_empty=True)
    prefixes: dict[str, int] = {}
    for i, rule in enumerate(authz.rules):
        path = f"authorization.rules[{i}]"
        if f"{path}.path_prefix" not in errors.bad:
            if not rule.path_prefix:
                errors.add(f"{path}.path_prefix", "required")
            else:
                _check_path(rule.path_prefix, f"{path}.path_prefix", errors)
                if rule.path_prefix in prefixes:
                    errors.add(
                        f"{path}.path_prefix",
                        f"same prefix as authorization.rules[{prefixes[rule.path_prefix]}]",
                    )
                prefixes.setdefault(rule.path_prefix, i)
        _check_scopes(rule.read_scopes, f"{path}.read_scopes", errors, allow_empty=False)
        _check_scopes(rule.write_scopes, f"{path}.write_scopes", errors, allow_empty=False)
        for j, group in enumerate(rule.groups):
            errors.check(bool(group), f"{path}.groups[{j}]", "must not be empty")


def to_document(value: Any) -> Any:
    """Serialise a config dataclass tree to plain YAML/JSON types."""
    if isinstance(value, ProxyConfig):
        body = {f.name: to_document(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {"apiVersion": API_VERSION, "kind": CONFIG_KIND, **body}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_document(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [to_document(v) for v in value]
    return value

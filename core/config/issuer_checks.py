"""Meaning checks of the ``issuers`` list (see :mod:`authgate.core.issuers`).

Called by :func:`.validation.validate_document` after the shape
pass; like every check there, it appends to the shared error list and never
stops at the first problem.  The rules that protect the data path:

* every ``iss`` is accepted by exactly one entry (an issuer listed twice would
  make routing ambiguous), and the IdP's issuers cannot be repeated here;
* every entry ends up with at least one accepted audience (RFC 8725 §3.9: a
  token for another service must not be accepted);
* a ``kubernetes`` entry needs a non-empty allow-list whose every grant names
  explicit scopes — service-account tokens carry none, and "all scopes" is
  never a default.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from .checks import check_scopes as _check_scopes
from .checks import check_url as _check_url
from .issuer_model import (
    ISSUER_KINDS,
    TEMPLATE_FIELDS,
    AccessKeyIssuer,
    KubernetesIssuer,
    template_fields,
)
from .model import ProxyConfig

if TYPE_CHECKING:
    from .schema import ErrorList

__all__ = ["check_issuers"]

_NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_GROUP_FIELDS = frozenset({"namespace", "name"})

#: The claim settings a kind with a section of its own fixes itself, each with the
#: rest of its error message: a value there would be silently ignored, so it is an
#: error.  One loop in check_issuers reads this for every such kind (and refuses
#: the section under any other kind).
_KUBERNETES_FIXED = tuple((name, "") for name in ("email", "groups", "scope_prefix"))
_ACCESS_KEY_FIXED = tuple(
    (name, " (its claims are fixed)")
    for name in ("principal", "subject", "email", "groups", "scope_prefix")
)


def _check_template(template: str, allowed: frozenset[str], path: str, errors: ErrorList) -> None:
    try:
        names = template_fields(template)
    except ValueError as exc:
        errors.add(path, f"not a valid template: {exc}")
        return
    if not template.strip():
        errors.add(path, "must not be empty")
    unknown = sorted(n for n in names if n not in allowed)
    if unknown or any(not n for n in names):
        errors.add(
            path,
            f"unknown template field(s) {', '.join(repr(n) for n in unknown) or '{}'}; "
            f"allowed: {', '.join(sorted(allowed))}",
        )


def check_issuers(cfg: ProxyConfig, errors: ErrorList) -> None:
    """Append every problem of ``cfg.issuers`` to ``errors``."""
    seen_names: dict[str, int] = {}
    seen_issuers: dict[str, str] = {iss: "oidc.issuer" for iss in cfg.oidc.issuers}
    idp_audience = cfg.oidc.effective_audience
    for i, entry in enumerate(cfg.issuers):
        path = f"issuers[{i}]"
        if not _NAME_RE.match(entry.name):
            errors.check(
                False, f"{path}.name", "required: lower-case letters, digits and '-' (at most 63)"
            )
        elif entry.name in seen_names or entry.name == "idp":
            errors.add(
                f"{path}.name",
                f"{entry.name!r} is already used"
                + (
                    f" by issuers[{seen_names[entry.name]}]"
                    if entry.name in seen_names
                    else " by the IdP"
                ),
            )
        seen_names.setdefault(entry.name, i)
        kind_ok = entry.kind in ISSUER_KINDS  # the field's choices report it otherwise
        if not entry.issuer:
            errors.check(False, f"{path}.issuer", "required")
        else:
            # The operator's access-key issuer is served in-cluster (often plain http to a
            # Service name; see THREAT_MODEL.md), so only IdP-like kinds must be https.
            _check_url(
                entry.issuer,
                f"{path}.issuer",
                errors,
                schemes=("http", "https"),
                strict=entry.kind != "access_key",
            )
            if entry.issuer in seen_issuers:
                errors.add(
                    f"{path}.issuer",
                    f"{entry.issuer!r} is already accepted by {seen_issuers[entry.issuer]}"
                    " (each iss routes to exactly one entry)",
                )
            seen_issuers.setdefault(entry.issuer, path)
        for j, aud in enumerate(entry.audience):
            errors.check(bool(aud), f"{path}.audience[{j}]", "must not be empty")
        if not entry.audience and not idp_audience:
            errors.add(f"{path}.audience", "required: the provider has no audience to inherit")
        _check_url(
            entry.discovery_url,
            f"{path}.discovery_url",
            errors,
            schemes=("http", "https"),
            strict=True,
        )
        if entry.jwks_uri is not None and not entry.jwks_uri.startswith("file:///"):
            _check_url(
                entry.jwks_uri, f"{path}.jwks_uri", errors, schemes=("http", "https"), strict=True
            )
        if kind_ok:
            template = entry.claims.principal
            if template is not None:
                _check_template(
                    template, TEMPLATE_FIELDS[entry.kind], f"{path}.claims.principal", errors
                )
        for name in ("subject", "email", "groups"):
            value = getattr(entry.claims, name)
            errors.check(
                value is None or bool(value),
                f"{path}.claims.{name}",
                "must not be empty (use null)",
            )
        if entry.kind == "kubernetes":
            _check_kubernetes(entry.kubernetes, f"{path}.kubernetes", errors)
        elif entry.kind == "access_key":
            _check_access_key(entry.access_key, f"{path}.access_key", errors)
        for kind, fixed_claims, section_unset in (
            ("kubernetes", _KUBERNETES_FIXED, entry.kubernetes == KubernetesIssuer()),
            ("access_key", _ACCESS_KEY_FIXED, entry.access_key == AccessKeyIssuer()),
        ):
            if entry.kind != kind:
                if not section_unset:
                    errors.add(f"{path}.{kind}", f"applies to kind {kind} only")
                continue
            for name, why in fixed_claims:
                errors.check(
                    getattr(entry.claims, name) is None,
                    f"{path}.claims.{name}",
                    f"does not apply to kind {kind}{why}",
                )


def _check_kubernetes(k8s: KubernetesIssuer, path: str, errors: ErrorList) -> None:
    _check_url(k8s.api_server, f"{path}.api_server", errors, schemes=("http", "https"), strict=True)
    grants_path = f"{path}.allowed_service_accounts"
    if not k8s.allowed_service_accounts:
        errors.check(
            False,
            grants_path,
            "required: list the service accounts (namespace, name, scopes) this "
            "provider accepts; unlisted ones are refused",
        )
    for j, grant in enumerate(k8s.allowed_service_accounts):
        gpath = f"{grants_path}[{j}]"
        errors.check(bool(grant.namespace), f"{gpath}.namespace", "required (a name or a glob)")
        errors.check(bool(grant.name), f"{gpath}.name", "must not be empty ('*' for all)")
        if not grant.scopes:
            errors.check(
                False,
                f"{gpath}.scopes",
                "required: the scopes these service accounts get (never all scopes by default)",
            )
        else:
            _check_scopes(grant.scopes, f"{gpath}.scopes", errors, allow_empty=False)
    for j, template in enumerate(k8s.groups):
        _check_template(template, _GROUP_FIELDS, f"{path}.groups[{j}]", errors)


def _check_access_key(ak: AccessKeyIssuer, path: str, errors: ErrorList) -> None:
    _check_url(
        ak.revocation_url, f"{path}.revocation_url", errors, schemes=("http", "https"), strict=False
    )
    errors.check(
        2 * ak.poll_seconds <= ak.max_stale_seconds,
        f"{path}.max_stale_seconds",
        "must be at least twice poll_seconds",
    )

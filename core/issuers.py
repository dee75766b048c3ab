"""Credential kinds, one mechanism: issuer entries and their claim mappings.

A provider accepts tokens from several issuers — its IdP (``oidc``, plus
``oidc.additional_issuers``), the cluster's service-account issuer, the
operator's access-key issuer.  Each is one :class:`CompiledIssuer`: the exact
``iss`` it answers for, its own key cache (held by the caller, keyed by
``iss``), its accepted audiences and a *claim mapper* that turns verified
claims into the parts of a :class:`~authgate.core.principal.Principal`.

The :class:`~authgate.core.verify.TokenVerifier` does everything that is the
same for every kind (JOSE header, signature with *this* issuer's keys only,
``exp``/``nbf``/``iat``, audience); the mapper does only what differs:

* ``oidc`` — subject, email, groups from the configured claims, scopes from
  ``scope``/``scp`` with the scope prefix stripped (RFC 9068 §2.2.3).
* ``kubernetes`` — projected service-account tokens (KEP-1205 bound tokens):
  ``sub`` must be ``system:serviceaccount:<ns>:<name>`` and agree with the
  ``kubernetes.io`` claim; the principal id comes from a template
  (``service:{namespace}/{name}``), groups from templates (the namespace is
  one), scopes **only** from the ``allowed_service_accounts`` allow-list —
  a token never carries scopes of its own, and an unlisted service account is
  refused with 403 (never "all scopes" by default).  The pod the token is
  bound to (``kubernetes.io.pod.name``/``uid``) becomes identity attributes,
  so an upstream can audit which pod called.
* ``access_key`` — keys the operator mints (``/apis/auth/v2/access-keys``):
  fixed claims (``sub``, ``email``, ``groups``, ``scope``), a ``jti`` of the
  form ``ak_<32 hex>``; every request is also checked against the issuer's
  revocation list (:mod:`authgate.core.revocation`), cached tokens included.

To add a kind: a mapper factory ``(entry, config) -> ClaimMapper`` in
:data:`MAPPERS` and its name in :data:`authgate.core.config.ISSUER_KINDS`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from .config import (
    TEMPLATE_FIELDS,
    IssuerEntry,
    ProxyConfig,
    ServiceAccountGrant,
    template_fields,
)
from .errors import Forbidden, InvalidToken

__all__ = [
    "MAPPERS",
    "TEMPLATE_FIELDS",
    "ClaimMapper",
    "CompiledIssuer",
    "Identity",
    "compile_issuers",
    "scopes_claim",
    "strings_claim",
    "template_fields",
]

_DEFAULT_PRINCIPAL = {"oidc": "{sub}", "kubernetes": "service:{namespace}/{name}"}
_SA_PREFIX = "system:serviceaccount:"


@dataclass(frozen=True, slots=True)
class Identity:
    """What a claim mapper derives; the verifier adds issuer, audience and expiry."""

    subject: str
    email: str | None = None
    groups: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ()
    attributes: tuple[tuple[str, str], ...] = ()


#: ``(verified claims) -> Identity``; raises InvalidToken (401) or Forbidden (403).
ClaimMapper = Callable[[dict[str, Any]], Identity]


@dataclass(frozen=True, slots=True)
class CompiledIssuer:
    """One accepted issuer, ready for the verifier."""

    name: str
    kind: str
    issuer: str
    audience: frozenset[str]
    map_claims: ClaimMapper


def strings_claim(value: Any, name: str, *, split: bool) -> tuple[str, ...]:
    """A claim that may be one string (split on spaces when ``split``) or an array."""
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(value.split()) if split else (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise InvalidToken(f"the '{name}' claim has the wrong type", reason="bad_claim")


def scopes_claim(claims: dict[str, Any], prefix: str) -> tuple[str, ...]:
    """Scopes from ``scope`` and ``scp`` (space-delimited string or array;
    RFC 9068 §2.2.3, Entra ID's ``scp``), ``prefix`` stripped, duplicates dropped."""
    seen: dict[str, None] = {}
    for name in ("scope", "scp"):
        for scope in strings_claim(claims.get(name), name, split=True):
            if prefix and scope.startswith(prefix):
                scope = scope[len(prefix) :]
            if scope:
                seen.setdefault(scope, None)
    return tuple(seen)


# -- oidc -------------------------------------------------------------------------


def oidc_mapper(entry: IssuerEntry, config: ProxyConfig) -> ClaimMapper:
    tokens = config.tokens
    subject_claim = entry.claims.subject or tokens.subject_claim
    email_claim = entry.claims.email or tokens.email_claim
    groups_claim = entry.claims.groups or tokens.groups_claim
    prefix = (
        config.oidc.scope_prefix
        if entry.claims.scope_prefix is None
        else (entry.claims.scope_prefix)
    )
    template = entry.claims.principal or "{sub}"

    def map_claims(claims: dict[str, Any]) -> Identity:
        subject = claims.get(subject_claim)
        if not isinstance(subject, str) or not subject:
            raise InvalidToken("the token has no subject", reason="missing_claim")
        email = claims.get(email_claim)
        if email is not None and not isinstance(email, str):
            raise InvalidToken("the email claim is not a string", reason="bad_claim")
        groups = strings_claim(claims.get(groups_claim), groups_claim, split=False)
        principal = subject if template == "{sub}" else template.format(sub=subject)
        return Identity(principal, email, groups, scopes_claim(claims, prefix))

    return map_claims


# -- kubernetes service accounts ----------------------------------------------------


def _grant_for(
    grants: tuple[ServiceAccountGrant, ...], namespace: str, name: str
) -> ServiceAccountGrant | None:
    for grant in grants:
        if fnmatchcase(namespace, grant.namespace) and fnmatchcase(name, grant.name):
            return grant
    return None


def _k8s_object(claims: dict[str, Any]) -> dict[str, Any]:
    value = claims.get("kubernetes.io")
    if not isinstance(value, dict):
        # Legacy secret-based tokens carry flat "kubernetes.io/serviceaccount/*" claims
        # and no exp/aud; they never get this far, but say so if one does.
        raise InvalidToken(
            "not a projected service-account token (no 'kubernetes.io' claim)",
            reason="bad_claim",
        )
    return value


def _member(obj: dict[str, Any], *path: str) -> str | None:
    node: Any = obj
    for part in path:
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node if isinstance(node, str) and node else None


def kubernetes_mapper(entry: IssuerEntry, config: ProxyConfig) -> ClaimMapper:
    grants = entry.kubernetes.allowed_service_accounts
    template = entry.claims.principal or _DEFAULT_PRINCIPAL["kubernetes"]
    group_templates = entry.kubernetes.groups

    def map_claims(claims: dict[str, Any]) -> Identity:
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub.startswith(_SA_PREFIX):
            raise InvalidToken("the token is not a service-account token", reason="bad_claim")
        namespace, sep, name = sub[len(_SA_PREFIX) :].partition(":")
        if not sep or not namespace or not name or ":" in name:
            raise InvalidToken("the service-account subject is malformed", reason="bad_claim")
        k8s = _k8s_object(claims)
        if _member(k8s, "namespace") != namespace or (
            _member(k8s, "serviceaccount", "name") != name
        ):
            raise InvalidToken(
                "the service-account claims disagree with the subject", reason="bad_claim"
            )
        grant = _grant_for(grants, namespace, name)
        if grant is None:
            raise Forbidden(
                "this service account is not allowed on this service",
                reason="service_account_not_allowed",
            )
        fields = {
            "sub": sub,
            "namespace": namespace,
            "name": name,
            "uid": _member(k8s, "serviceaccount", "uid") or "",
        }
        attributes: list[tuple[str, str]] = []
        pod_name = _member(k8s, "pod", "name")
        pod_uid = _member(k8s, "pod", "uid")
        if pod_name:
            attributes.append(("pod_name", pod_name))
        if pod_uid:
            attributes.append(("pod_uid", pod_uid))
        return Identity(
            subject=template.format(**fields),
            groups=tuple(t.format(**fields) for t in group_templates),
            scopes=grant.scopes,
            attributes=tuple(attributes),
        )

    return map_claims


# -- operator-minted access keys ------------------------------------------------------

_ACCESS_KEY_ID = re.compile(r"ak_[0-9a-f]{32}")


def access_key_mapper(entry: IssuerEntry, config: ProxyConfig) -> ClaimMapper:
    """Access keys (issue #17) carry fixed claims the operator wrote: ``sub`` (the
    creator, or ``system:serviceaccount:<ns>:<name>``), ``email``/``groups``
    copied from the creator, ``scope`` (no prefix) and ``jti`` (``ak_<32 hex>``),
    which becomes the ``access_key_id`` attribute the revocation check reads."""

    def map_claims(claims: dict[str, Any]) -> Identity:
        jti = claims.get("jti")
        if not isinstance(jti, str) or not _ACCESS_KEY_ID.fullmatch(jti):
            raise InvalidToken("the access key has no valid jti", reason="bad_claim")
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise InvalidToken("the token has no subject", reason="missing_claim")
        email = claims.get("email")
        if email is not None and not isinstance(email, str):
            raise InvalidToken("the email claim is not a string", reason="bad_claim")
        groups = strings_claim(claims.get("groups"), "groups", split=False)
        return Identity(subject, email, groups, scopes_claim(claims, ""), (("access_key_id", jti),))

    return map_claims


#: One mapper factory per kind (keep in step with ``config.ISSUER_KINDS``).
MAPPERS: Mapping[str, Callable[[IssuerEntry, ProxyConfig], ClaimMapper]] = {
    "oidc": oidc_mapper,
    "kubernetes": kubernetes_mapper,
    "access_key": access_key_mapper,
}


def compile_issuers(config: ProxyConfig) -> dict[str, CompiledIssuer]:
    """Every accepted issuer by its exact ``iss``: the IdP (``oidc.issuer`` and
    ``oidc.additional_issuers``, one claim mapping) and each ``issuers`` entry."""
    out: dict[str, CompiledIssuer] = {}
    idp_audience = frozenset(config.oidc.effective_audience)
    idp_entry = IssuerEntry(name="idp", kind="oidc")
    idp_mapper = oidc_mapper(idp_entry, config)
    for iss in config.oidc.issuers:
        out[iss] = CompiledIssuer("idp", "oidc", iss, idp_audience, idp_mapper)
    for entry in config.issuers:
        audience = frozenset(entry.audience) if entry.audience else idp_audience
        mapper = MAPPERS[entry.kind](entry, config)
        out.setdefault(
            entry.issuer, CompiledIssuer(entry.name, entry.kind, entry.issuer, audience, mapper)
        )
    return out

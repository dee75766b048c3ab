"""Issuer entries of the config model: more issuers accepted next to the IdP.

A provider accepts tokens from several issuers (the IdP, the cluster's
service-account issuer, the operator's access-key issuer); each is one
:class:`IssuerEntry` in ``ProxyConfig.issuers`` with its own key source,
audience and claim mapping.  The mapping itself lives in
:mod:`authgate.core.issuers`; the meaning checks in :mod:`.issuer_checks`.
Dataclasses only, like :mod:`.model` (which imports this module).
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass, field

from .schema import setting as _doc  # a field with its documentation and bounds

__all__ = [
    "IN_CLUSTER_CA_FILE",
    "IN_CLUSTER_TOKEN_FILE",
    "ISSUER_KINDS",
    "TEMPLATE_FIELDS",
    "AccessKeyIssuer",
    "IssuerClaims",
    "IssuerEntry",
    "KubernetesIssuer",
    "ServiceAccountGrant",
    "template_fields",
]


#: Kinds of issuer entry: how an entry's verified claims become a principal
#: (see :mod:`authgate.core.issuers`, which holds one claim mapper per kind).
ISSUER_KINDS: tuple[str, ...] = ("oidc", "kubernetes", "access_key")

#: Where a pod finds its cluster CA and its own service-account token.
IN_CLUSTER_CA_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"
IN_CLUSTER_TOKEN_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/token"  # noqa: S105


@dataclass(frozen=True, slots=True)
class IssuerClaims:
    """How an entry's claims become a principal; unset fields take the kind's default."""

    principal: str | None = _doc(
        None,
        "principal-id template: oidc default '{sub}'; kubernetes default "
        "'service:{namespace}/{name}' (fields: sub, namespace, name, uid)",
    )
    subject: str | None = _doc(None, "claim holding the subject; default tokens.subject_claim")
    email: str | None = _doc(None, "claim holding the email; default tokens.email_claim (oidc)")
    groups: str | None = _doc(None, "claim holding the groups; default tokens.groups_claim (oidc)")
    scope_prefix: str | None = _doc(None, "prefix stripped from scopes; default oidc.scope_prefix")


@dataclass(frozen=True, slots=True)
class ServiceAccountGrant:
    """Scopes for the service accounts matching ``namespace``/``name`` (fnmatch globs)."""

    namespace: str = _doc("", "namespace, or a glob such as 'jobs-*' (required)")
    name: str = _doc("*", "service-account name, or a glob")
    scopes: tuple[str, ...] = _doc((), "the scopes these service accounts get (required)")


@dataclass(frozen=True, slots=True)
class KubernetesIssuer:
    """Settings of a ``kind: kubernetes`` entry: the cluster's service-account issuer."""

    api_server: str = _doc(
        "https://kubernetes.default.svc",
        "apiserver URL serving /.well-known/openid-configuration and /openid/v1/jwks",
    )
    allowed_service_accounts: tuple[ServiceAccountGrant, ...] = _doc(
        (), "the allow-list, first match wins; an unlisted service account gets 403"
    )
    groups: tuple[str, ...] = _doc(
        ("system:serviceaccounts", "system:serviceaccounts:{namespace}"),
        "group templates (fields: namespace, name); the namespace becomes a group",
    )


@dataclass(frozen=True, slots=True)
class AccessKeyIssuer:
    """Settings of a ``kind: access_key`` entry: the operator's access-key issuer
    (rendered by the operator when ``spec.accessKeys.enabled``; see docs/operator.md)."""

    revocation_url: str | None = _doc(
        None, "the operator's revocation list; default {issuer}/revocations"
    )
    poll_seconds: float = _doc(
        2.0, "how often the revocation list is polled (ETag/304)", minimum=0.2, maximum=600
    )
    max_stale_seconds: float = _doc(
        60.0,
        "without a fresh revocation list this long, access keys are refused (fail closed)",
        minimum=1,
        maximum=86400,
    )


@dataclass(frozen=True, slots=True)
class IssuerEntry:
    """One more issuer whose tokens are accepted next to ``oidc`` (routed by ``iss``)."""

    name: str = _doc("", "unique label for logs, metrics and status (required)")
    kind: str = _doc(
        "oidc", "how claims map to a principal: " + " | ".join(ISSUER_KINDS), choices=ISSUER_KINDS
    )
    issuer: str = _doc("", "the exact `iss` of this issuer's tokens (required)")
    audience: tuple[str, ...] = _doc((), "accepted `aud`; empty means the provider's audience")
    discovery_url: str | None = _doc(
        None,
        "metadata document URL; default {issuer}/.well-known/openid-configuration "
        "(kubernetes: {api_server}/.well-known/openid-configuration)",
    )
    jwks_uri: str | None = _doc(
        None, "JWKS URL (https, or file:// for a mounted key set); overrides the metadata's"
    )
    ca_file: str | None = _doc(
        None, "CA bundle for fetching keys; default keys.ca_file (kubernetes: the in-pod CA)"
    )
    token_file: str | None = _doc(
        None,
        "bearer token file sent when fetching keys, re-read each time (kubernetes default: "
        "the sidecar's own service-account token, for clusters without anonymous discovery)",
    )
    claims: IssuerClaims = field(
        default_factory=IssuerClaims, metadata={"doc": "claim mapping overrides"}
    )
    kubernetes: KubernetesIssuer = field(
        default_factory=KubernetesIssuer,
        metadata={"doc": "service-account settings (kind: kubernetes only)"},
    )
    access_key: AccessKeyIssuer = field(
        default_factory=AccessKeyIssuer,
        metadata={"doc": "revocation-list settings (kind: access_key only; the operator sets it)"},
    )

    @property
    def effective_ca_file(self) -> str | None:
        """``ca_file``, or the in-pod cluster CA for a kubernetes entry."""
        if self.ca_file is not None:
            return self.ca_file or None
        return IN_CLUSTER_CA_FILE if self.kind == "kubernetes" else None

    @property
    def effective_token_file(self) -> str | None:
        """``token_file``, or the sidecar's own token for a kubernetes entry
        (an empty string turns it off: anonymous discovery)."""
        if self.token_file is not None:
            return self.token_file or None
        return IN_CLUSTER_TOKEN_FILE if self.kind == "kubernetes" else None

    @property
    def effective_discovery_url(self) -> str:
        if self.discovery_url:
            return self.discovery_url
        base = self.kubernetes.api_server if self.kind == "kubernetes" else self.issuer
        return base.rstrip("/") + "/.well-known/openid-configuration"

    @property
    def effective_jwks_uri(self) -> str | None:
        """The JWKS URL when fixed by config (kubernetes: the apiserver's own
        ``/openid/v1/jwks``, not the metadata's, which may name an external host)."""
        if self.jwks_uri:
            return self.jwks_uri
        if self.kind == "kubernetes":
            return self.kubernetes.api_server.rstrip("/") + "/openid/v1/jwks"
        return None

    @property
    def effective_revocation_url(self) -> str:
        """Where a ``kind: access_key`` entry's revocation list is polled."""
        return self.access_key.revocation_url or self.issuer.rstrip("/") + "/revocations"


#: Fields each kind's principal template may use.
TEMPLATE_FIELDS: Mapping[str, frozenset[str]] = {
    "oidc": frozenset({"sub"}),
    "kubernetes": frozenset({"sub", "namespace", "name", "uid"}),
    "access_key": frozenset({"sub"}),
}


def template_fields(template: str) -> set[str]:
    """The ``{field}`` names of a template (raises ValueError when malformed)."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}

"""After a login: will the platform accept this token?

Some IdPs answer a perfectly good login with a token the platform can never
accept: oidc-provider and Auth0 issue *opaque* access tokens unless a resource
(RFC 8707) or an ``audience`` is requested, and a misconfigured client gets a
JWT for another audience.  The login "works", and every later call is refused
as ``malformed_token`` or ``bad_audience`` — which no new login fixes.  So the
CLI checks the fresh token against what the discovery document says the
platform accepts (a JWT, its issuer, one of ``accepted_audiences``) and warns,
naming the likely IdP setting.  The token is only *read* here, never trusted:
the platform still verifies everything.
"""

from __future__ import annotations

from authgate.client.discovery import Discovery
from authgate.client.tokens import claims


def _listed(values: tuple[str, ...] | list[str]) -> str:
    return ", ".join(repr(v) for v in values) or "none"


def mismatches(access_token: str, discovery: Discovery) -> list[str]:
    """Reasons the platform will refuse ``access_token`` (empty when it looks right)."""
    if discovery.quickstart:
        return []
    found = claims(access_token)
    if access_token.count(".") != 2 or not found:
        asked = discovery.token_request_params
        fix = (
            (
                "the platform already requests "
                + ", ".join(f"{k}={v}" for k, v in asked.items())
                + "; check that the IdP knows that API/resource"
            )
            if asked
            else (
                "such IdPs (oidc-provider without a resource indicator, Auth0 without `audience`) "
                "need the platform to set oidc.request_resource or oidc.request_audience "
                "(spec.requestResource / spec.requestAudience)"
            )
        )
        return [
            "the identity provider issued an opaque (non-JWT) access token, but the "
            "platform accepts only JWTs: every request will be refused as malformed_token; " + fix
        ]
    problems = []
    issuer = found.get("iss")
    if discovery.issuer and issuer != discovery.issuer:
        problems.append(
            f"the platform accepts tokens from issuer {discovery.issuer!r}; your "
            f"identity provider issued one from {issuer!r} (bad_issuer): the "
            "platform's issuer setting and the IdP disagree"
        )
    aud = found.get("aud")
    audiences = (
        [aud]
        if isinstance(aud, str)
        else [a for a in aud or [] if isinstance(a, str)]
        if isinstance(aud, list | str)
        else []
    )
    accepted = discovery.accepted_audiences
    if accepted and not set(accepted) & set(audiences):
        problems.append(
            f"the platform accepts audience {_listed(accepted)}; your identity "
            f"provider issued {_listed(audiences)} (bad_audience): add the API "
            "audience to the client at the IdP (an audience mapper in Keycloak, "
            "the API identifier in Entra ID / Auth0)"
        )
    return problems

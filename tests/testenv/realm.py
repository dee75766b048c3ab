"""The `authgate` realm the Keycloak fixture creates: users, groups, clients, scopes.

It mirrors what our users configure in Entra ID or Okta: custom API scopes
(`platform:read`, `platform:write`) that appear in the access token's
`scope` claim, an API audience (`api://authgate`) in `aud`, a `groups`
claim with plain group names, a public CLI client with the device
authorization grant (RFC 8628) and the password grant, and a confidential
web client.

The realm is created through the admin REST API rather than a full realm
file: a realm created without `clientScopes` gets Keycloak's default scopes
(`basic`, which carries `sub`, `profile`, `email`, `roles`, ...), which a
hand-written export would have to reproduce exactly.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

REALM = "authgate"
AUDIENCE = "api://authgate"
CLI_CLIENT_ID = "authgate-cli"
WEB_CLIENT_ID = "authgate-web"
SCOPES = ("platform:read", "platform:write")
LOOPBACK_REDIRECTS = ["http://127.0.0.1/*", "http://localhost/*"]
# -- browser sign-in (issue 12) --
BROWSER_CLIENT_ID = "authgate-browser"
BROWSER_ACCESS_TOKEN_SECONDS = 20  # short, so the refresh path runs within a test


@dataclass(frozen=True)
class KeycloakUser:
    """A realm user the tests log in as."""

    username: str
    password: str
    email: str
    groups: tuple[str, ...] = field(default_factory=tuple)


USERS: dict[str, KeycloakUser] = {
    "alice": KeycloakUser(
        "alice", "alice-Passw0rd", "alice@example.com", ("platform-admins", "developers")
    ),
    "bob": KeycloakUser("bob", "bob-Passw0rd", "bob@example.com", ("developers",)),
    "carol": KeycloakUser("carol", "carol-Passw0rd", "carol@example.com", ()),
}


def _mappers() -> list[dict[str, Any]]:
    return [
        {
            "name": "audience-api-authgate",
            "protocol": "openid-connect",
            "protocolMapper": "oidc-audience-mapper",
            "config": {
                "included.custom.audience": AUDIENCE,
                "access.token.claim": "true",
                "id.token.claim": "false",
                "introspection.token.claim": "true",
            },
        },
        {
            "name": "groups",
            "protocol": "openid-connect",
            "protocolMapper": "oidc-group-membership-mapper",
            "config": {
                "claim.name": "groups",
                "full.path": "false",
                "access.token.claim": "true",
                "id.token.claim": "true",
                "userinfo.token.claim": "true",
                "introspection.token.claim": "true",
            },
        },
    ]


def web_client_secret() -> str:
    return secrets.token_urlsafe(24)


def realm_representation(web_secret: str, ci_secret: str = "") -> dict[str, Any]:
    """The RealmRepresentation POSTed to `/admin/realms` (no clientScopes: see module doc)."""
    groups = sorted({g for user in USERS.values() for g in user.groups})
    return {
        "realm": REALM,
        "enabled": True,
        "displayName": "authgate tests",
        "accessTokenLifespan": 300,
        "groups": [{"name": g} for g in groups],
        "users": [
            {
                "username": user.username,
                "enabled": True,
                "email": user.email,
                "emailVerified": True,
                "firstName": user.username.capitalize(),
                "lastName": "Tester",
                "groups": [f"/{g}" for g in user.groups],
                "credentials": [{"type": "password", "value": user.password, "temporary": False}],
            }
            for user in USERS.values()
        ],
        "clients": [
            {
                "clientId": CLI_CLIENT_ID,
                "name": "authgate CLI",
                "enabled": True,
                "publicClient": True,
                "standardFlowEnabled": True,
                "directAccessGrantsEnabled": True,
                "implicitFlowEnabled": False,
                "redirectUris": LOOPBACK_REDIRECTS,
                "attributes": {
                    "oauth2.device.authorization.grant.enabled": "true",
                    "post.logout.redirect.uris": "+",
                },
                "protocolMappers": _mappers(),
            },
            {
                "clientId": WEB_CLIENT_ID,
                "name": "authgate web",
                "enabled": True,
                "publicClient": False,
                "clientAuthenticatorType": "client-secret",
                "secret": web_secret,
                "standardFlowEnabled": True,
                "directAccessGrantsEnabled": True,
                "serviceAccountsEnabled": True,
                "redirectUris": [*LOOPBACK_REDIRECTS, "https://127.0.0.1/*"],
                "attributes": {"post.logout.redirect.uris": "+"},
                "protocolMappers": _mappers(),
            },
            *(workload_clients(ci_secret) if ci_secret else []),
            browser_client(),
        ],
    }


# -- workload identity (issue 13): a confidential client for client credentials ----------
CI_CLIENT_ID = "authgate-ci"
#: Short-lived tokens, so the tests see the CLI/SDK request a new one before expiry.
CI_TOKEN_LIFESPAN = 20


def workload_clients(ci_secret: str) -> list[dict[str, Any]]:
    """A CI pipeline's client: client credentials only (a service account), the API
    audience and the platform scopes (as optional client scopes, added by the fixture)."""
    return [
        {
            "clientId": CI_CLIENT_ID,
            "name": "authgate CI pipeline",
            "enabled": True,
            "publicClient": False,
            "clientAuthenticatorType": "client-secret",
            "secret": ci_secret,
            "standardFlowEnabled": False,
            "directAccessGrantsEnabled": False,
            "serviceAccountsEnabled": True,
            "attributes": {"access.token.lifespan": str(CI_TOKEN_LIFESPAN)},
            "protocolMappers": _mappers(),
        }
    ]


# -- end of workload identity -------------------------------------------------------------


def browser_client() -> dict[str, Any]:
    """The public browser client (authorization code + PKCE S256 enforced) whose
    access tokens live only ``BROWSER_ACCESS_TOKEN_SECONDS``.  The confidential
    variant of the flow uses ``authgate-web``."""
    return {
        "clientId": BROWSER_CLIENT_ID,
        "name": "authgate browser",
        "enabled": True,
        "publicClient": True,
        "standardFlowEnabled": True,
        "directAccessGrantsEnabled": False,
        "implicitFlowEnabled": False,
        "redirectUris": LOOPBACK_REDIRECTS,
        "webOrigins": ["+"],
        "attributes": {
            "pkce.code.challenge.method": "S256",
            "post.logout.redirect.uris": "+",
            "access.token.lifespan": str(BROWSER_ACCESS_TOKEN_SECONDS),
        },
        "protocolMappers": _mappers(),
    }


# -- end of browser sign-in --


def client_scope_representation(name: str) -> dict[str, Any]:
    """An API scope that is written into the access token's `scope` claim."""
    return {
        "name": name,
        "protocol": "openid-connect",
        "attributes": {
            "include.in.token.scope": "true",
            "display.on.consent.screen": "true",
            "consent.screen.text": f"authgate {name.split(':')[1]} access",
        },
    }

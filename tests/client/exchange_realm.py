"""The token-exchange clients (RFC 8693) added to the test realm, over the admin API.

Keycloak 26.2+ implements *standard token exchange* (V2, supported, on by
default): a confidential client whose attribute `standard.token.exchange.enabled`
is `true` may exchange an access token of the same realm that names it in `aud`,
for a token issued to itself, with `scope` limited to its own client scopes and
`audience` limited to what its token would carry anyway. It does not exchange
tokens of other issuers (a Kubernetes service-account token): that needs a
preview feature (legacy V1 exchange with fine-grained admin permissions V1, or
26.5's JWT Authorization Grant), which this test Keycloak does not enable.

Two clients, created once per Keycloak (idempotently, next to the realm the
session fixture made):

* `authgate-job` — a workload's own client (client credentials, and the password
  grant so a test can hand a *user's* token to a workload). Its tokens are for
  `authgate-exchanger` only: the platform refuses them (`bad_audience`).
* `authgate-exchanger` — the exchanging client: standard token exchange on, the
  platform's audience (`api://authgate`) and groups mappers, the platform scopes
  as optional scopes, and 20-second access tokens so tests see re-exchanges.
* `api://authgate` — a client that only *names* the platform's API: Keycloak
  takes an exchange's `audience` parameter as a client id ("Audience not found"
  otherwise), so asking for exactly the platform's audience needs it to exist.
  It has no flows, no secret and no roles.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.testenv import realm

EXCHANGER_ID = "authgate-exchanger"
JOB_ID = "authgate-job"
EXCHANGED_LIFESPAN = 20


@dataclass(frozen=True)
class ExchangeClients:
    exchanger_id: str
    exchanger_secret: str
    job_id: str
    job_secret: str


def _client(client_id: str, name: str, **fields: Any) -> dict[str, Any]:
    """A confidential client (no public one) without the browser flow; ``fields`` add to
    or override it."""
    return {
        "clientId": client_id,
        "name": name,
        "enabled": True,
        "publicClient": False,
        "standardFlowEnabled": False,
        "directAccessGrantsEnabled": False,
        "serviceAccountsEnabled": False,
        **fields,
    }


def _confidential(client_id: str, name: str, secret: str, **fields: Any) -> dict[str, Any]:
    """A client that authenticates with ``secret``."""
    return _client(
        client_id, name, clientAuthenticatorType="client-secret", secret=secret, **fields
    )


def _job(secret: str) -> dict[str, Any]:
    return _confidential(
        JOB_ID,
        "a workload's own client",
        secret,
        directAccessGrantsEnabled=True,
        serviceAccountsEnabled=True,
        protocolMappers=[
            {
                "name": "audience-exchanger",
                "protocol": "openid-connect",
                "protocolMapper": "oidc-audience-mapper",
                "config": {
                    "included.client.audience": EXCHANGER_ID,
                    "access.token.claim": "true",
                    "id.token.claim": "false",
                },
            }
        ],
    )


def _exchanger(secret: str) -> dict[str, Any]:
    return _confidential(
        EXCHANGER_ID,
        "token exchange for the platform",
        secret,
        attributes={
            "standard.token.exchange.enabled": "true",
            "access.token.lifespan": str(EXCHANGED_LIFESPAN),
        },
        protocolMappers=realm._mappers(),  # the platform's audience and groups
    )


def _api(secret: str) -> dict[str, Any]:
    return _client(realm.AUDIENCE, "the platform's API (an audience only)", bearerOnly=True)


def _ensure(keycloak: Any, client_id: str, build: Any) -> str:
    """The internal id of ``client_id``, created from ``build(secret)`` when missing."""
    base = f"/{realm.REALM}"
    found = keycloak.admin("GET", f"{base}/clients", params={"clientId": client_id}).json()
    if not found:
        keycloak.admin("POST", f"{base}/clients", json=build(realm.web_client_secret()))
        found = keycloak.admin("GET", f"{base}/clients", params={"clientId": client_id}).json()
    return str(found[0]["id"])


def ensure_exchange_clients(keycloak: Any) -> ExchangeClients:
    """Create (once) or read the clients; the two confidential ones' secrets."""
    base = f"/{realm.REALM}"
    _ensure(keycloak, realm.AUDIENCE, _api)
    scope_ids = {s["name"]: s["id"] for s in keycloak.admin("GET", f"{base}/client-scopes").json()}
    secrets: dict[str, str] = {}
    for client_id, build in ((JOB_ID, _job), (EXCHANGER_ID, _exchanger)):
        internal = _ensure(keycloak, client_id, build)
        for name in realm.SCOPES:
            keycloak.admin(
                "PUT", f"{base}/clients/{internal}/optional-client-scopes/{scope_ids[name]}"
            )
        secret = keycloak.admin("GET", f"{base}/clients/{internal}/client-secret").json()
        secrets[client_id] = str(secret["value"])
    return ExchangeClients(EXCHANGER_ID, secrets[EXCHANGER_ID], JOB_ID, secrets[JOB_ID])

"""Reading the platform's discovery document: where every login starts.

``GET {base_url}/apis/auth/discovery`` (unauthenticated) tells the client
whether auth is on, which IdP to use, its token and device-authorization
endpoints, the public client id, the default scopes and the scope prefix.
Endpoints are never stored in the config file: they are rediscovered before
every login and refresh, so an IdP move needs no client change.

Anything that is not that document (a 404, an HTML page, JSON of another
shape) means the base URL is not an authgate platform, and the user is told so
in one line rather than with a parser traceback.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

import httpx

from authgate.client.errors import DiscoveryError, Unreachable, UsageError
from authgate.client.transport import origin, unreachable
from authgate.core.contracts import DISCOVERY_PATH


@dataclass(frozen=True)
class Discovery:
    auth_enabled: bool
    quickstart: bool = False
    issuer: str | None = None
    token_endpoint: str | None = None
    device_authorization_endpoint: str | None = None
    authorization_endpoint: str | None = None
    client_id: str | None = None
    default_scopes: str = ""
    scope_prefix: str = ""
    login_hint: str | None = None
    accepted_audiences: tuple[str, ...] = ()
    revocation_endpoint: str | None = None
    # resource (RFC 8707) / audience parameters every token request must carry
    token_request_params: dict[str, str] = field(default_factory=dict)
    endpoints_unknown: str | None = None  # why the endpoints are missing, when they are
    # Not part of the document: the response's HTTP Date header (RFC 9110 §6.6.1),
    # a second opinion on the local clock when the token carries no `iat`.
    server_date: str | None = None


def normalize_base_url(value: str) -> str:
    """``https://host[:port][/path]`` without a trailing slash; UsageError otherwise."""
    value = value.strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(
            f"base URL {value!r} is not an http(s) URL",
            hint="e.g. --base-url https://platform.example.com",
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise UsageError("base URL must not carry credentials, a query or a fragment")
    return value.rstrip("/")


def discovery_url(base_url: str) -> str:
    path: str = DISCOVERY_PATH
    return base_url.rstrip("/") + path


def _not_authgate(base_url: str, why: str) -> DiscoveryError:
    return DiscoveryError(
        f"{origin(base_url)} does not look like an authgate platform: {why}",
        hint=f"check --base-url: it is the platform's URL, which serves {DISCOVERY_PATH}",
    )


def parse_discovery(base_url: str, status: int, content_type: str, body: bytes) -> Discovery:
    """Validate one discovery response; every defect becomes a precise DiscoveryError."""
    if status == 404:
        return _raise(_not_authgate(base_url, f"GET {DISCOVERY_PATH} returned 404"))
    if status >= 400:
        raise DiscoveryError(
            f"discovery at {origin(base_url)} failed with HTTP {status}",
            hint="the platform may be starting or broken; retry shortly",
        )
    if "html" in content_type.lower():
        return _raise(_not_authgate(base_url, f"GET {DISCOVERY_PATH} returned an HTML page"))
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return _raise(_not_authgate(base_url, f"GET {DISCOVERY_PATH} did not return JSON"))
    if not isinstance(document, dict) or "auth_enabled" not in document:
        return _raise(
            _not_authgate(
                base_url, f"GET {DISCOVERY_PATH} returned JSON that is not a discovery document"
            )
        )
    if not isinstance(document.get("auth_enabled"), bool):
        raise DiscoveryError(
            f"malformed discovery document from {origin(base_url)}: "
            "'auth_enabled' must be true or false"
        )
    quickstart = document.get("quickstart") is True
    hint = document.get("login_hint")
    login_hint = hint if isinstance(hint, str) else None
    if not document["auth_enabled"]:
        return Discovery(auth_enabled=False, quickstart=quickstart, login_hint=login_hint)
    oidc = document.get("oidc")
    if quickstart and not isinstance(oidc, dict):
        return Discovery(auth_enabled=True, quickstart=True, login_hint=login_hint)
    if not isinstance(oidc, dict):
        raise DiscoveryError(
            f"malformed discovery document from {origin(base_url)}: "
            "'oidc' must be an object when auth is enabled"
        )
    return _parse_oidc(base_url, oidc, quickstart, login_hint)


def _parse_oidc(
    base_url: str, oidc: dict[str, Any], quickstart: bool, login_hint: str | None
) -> Discovery:
    problems: list[str] = []

    def text(key: str, *, required: bool, url: bool = False) -> str | None:
        value = oidc.get(key)
        if value is None or value == "":
            if required:
                problems.append(f"oidc.{key}: missing")
            return None
        if not isinstance(value, str):
            problems.append(f"oidc.{key}: must be a string")
            return None
        if url and urlsplit(value).scheme not in ("http", "https"):
            problems.append(f"oidc.{key}: not an http(s) URL")
            return None
        return value

    discovery = Discovery(
        auth_enabled=True,
        quickstart=quickstart,
        issuer=text("issuer", required=not quickstart),
        # Absent when the platform has not reached its IdP since it started: not a
        # malformed document; unavailable_idp() explains it to whoever needs it.
        token_endpoint=text("token_endpoint", required=False, url=True),
        device_authorization_endpoint=text(
            "device_authorization_endpoint", required=False, url=True
        ),
        authorization_endpoint=text("authorization_endpoint", required=False, url=True),
        client_id=text("client_id", required=not quickstart),
        default_scopes=text("default_scopes", required=False) or "",
        scope_prefix=text("scope_prefix", required=False) or "",
        login_hint=login_hint,
        accepted_audiences=_strings(oidc.get("accepted_audiences")),
        revocation_endpoint=text("revocation_endpoint", required=False, url=True),
        token_request_params=_params(oidc.get("token_request_params"), problems),
        endpoints_unknown=text("endpoints_unknown", required=False),
    )
    if problems:
        raise DiscoveryError(
            f"malformed discovery document from {origin(base_url)}: " + "; ".join(problems)
        )
    return discovery


def _strings(value: Any) -> tuple[str, ...]:
    if isinstance(value, list):
        return tuple(v for v in value if isinstance(v, str) and v)
    return ()


def _params(value: Any, problems: list[str]) -> dict[str, str]:
    if value is None:
        return {}
    allowed = ("resource", "audience")
    if not isinstance(value, dict) or not all(
        k in allowed and isinstance(v, str) and v for k, v in value.items()
    ):
        problems.append("oidc.token_request_params: must map resource/audience to strings")
        return {}
    return dict(value)


def unavailable_idp(base_url: str, discovery: Discovery) -> Unreachable:
    """The platform's document has no token endpoint: it cannot reach its IdP right now."""
    why = discovery.endpoints_unknown or "its discovery document names no token endpoint"
    return Unreachable(
        f"the platform at {origin(base_url)} cannot currently reach its identity provider ({why})",
        hint="retry shortly; if it persists, the platform's operators should "
        "check its connection to the identity provider",
    )


def _raise(error: DiscoveryError) -> Discovery:
    raise error


def fetch_discovery(http: httpx.Client, base_url: str) -> Discovery:
    url = discovery_url(base_url)
    try:
        response = http.get(url, headers={"Accept": "application/json"})
    except httpx.HTTPError as exc:
        raise unreachable("the platform", url, exc) from None
    return _from_response(base_url, response)


async def fetch_discovery_async(http: httpx.AsyncClient, base_url: str) -> Discovery:
    url = discovery_url(base_url)
    try:
        response = await http.get(url, headers={"Accept": "application/json"})
    except httpx.HTTPError as exc:
        raise unreachable("the platform", url, exc) from None
    return _from_response(base_url, response)


def _from_response(base_url: str, response: httpx.Response) -> Discovery:
    found = parse_discovery(
        base_url, response.status_code, response.headers.get("content-type", ""), response.content
    )
    return replace(found, server_date=response.headers.get("date"))

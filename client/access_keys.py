"""``authgate access-keys``: mint and manage scoped access keys (issue #17).

The commands call the operator's ``/apis/auth/v2/access-keys`` API with the
logged-in user's own token (``authgate login`` first).  Where the API is:
``--api-url`` / ``AUTHGATE_ACCESS_KEYS_URL``, else the ``access_keys_endpoint``
the platform's discovery document publishes, else ``<platform>/apis/auth/v2/access-keys``.

``create`` and ``rotate`` print the new token exactly once (on stdout, so it can be
captured: ``TOKEN=$(authgate access-keys create --name ci --scope models)``) with a
warning on stderr to store it; authgate keeps only its hash.  A key works like any
bearer token: ``AUTHGATE_TOKEN=<key>`` or ``Client(access_token=<key>)``.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import click
import httpx

from authgate.client.commands import AuthGroup, context_option, output_option
from authgate.client.errors import APIError, Forbidden, Unauthorized, UsageError
from authgate.client.output import Console, emit, key_value_table, table
from authgate.client.refresh import CLI_REFRESH_MARGIN, Session
from authgate.client.store import ConfigStore
from authgate.client.transport import sync_client, unreachable

__all__ = ["access_keys_group", "parse_duration"]

API_PATH = "/apis/auth/v2/access-keys"
URL_ENV = "AUTHGATE_ACCESS_KEYS_URL"
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400}
_DURATION = re.compile(r"(\d{1,9})([smhdwy]?)")


def parse_duration(text: str) -> int:
    """``30d``, ``12h``, ``90m``, ``3600`` (seconds); ``never`` is 0 (no expiry)."""
    value = text.strip().lower()
    if value == "never":
        return 0
    match = _DURATION.fullmatch(value)
    if not match:
        raise UsageError(
            f"cannot read the duration {text!r}",
            hint="use e.g. 30d, 12h, 90m, 3600 (seconds) or never",
        )
    return int(match.group(1)) * _UNITS[match.group(2) or "s"]


class _Api:
    """The logged-in user's session plus where the API lives."""

    def __init__(self, context: str | None, api_url: str | None, provider: str | None) -> None:
        self.session = Session.shared(ConfigStore(), context)
        login = self.session.login()
        self.ca_file = login.cluster.ca_file
        base = api_url or os.environ.get(URL_ENV) or self._discovered(login.cluster.base_url)
        parts = urlsplit(base)
        self.url = urlunsplit(parts._replace(query="")).rstrip("/")
        self.params = dict(parse_qsl(parts.query))  # discovery names the provider: ?provider=
        if provider:
            self.params["provider"] = provider

    def _discovered(self, base_url: str) -> str:
        try:
            with sync_client(self.ca_file) as http:
                doc = http.get(base_url.rstrip("/") + "/apis/auth/discovery").json()
            endpoint = doc.get("access_keys_endpoint") if isinstance(doc, dict) else None
        except (httpx.HTTPError, ValueError):
            endpoint = None
        return str(endpoint) if endpoint else base_url.rstrip("/") + API_PATH

    def call(
        self,
        method: str,
        path: str = "",
        body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        token = self.session.token(CLI_REFRESH_MARGIN).tokens.access_token
        url = self.url + path
        try:
            with sync_client(self.ca_file) as http:
                rsp = http.request(
                    method,
                    url,
                    json=body,
                    params={**self.params, **(params or {})},
                    headers={"Authorization": f"Bearer {token}"},
                )
        except httpx.HTTPError as exc:
            raise unreachable("the access-key API", url, exc) from None
        try:
            data = rsp.json()
        except ValueError:
            data = {}
        if rsp.status_code >= 400:
            detail = data.get("description") if isinstance(data, dict) else None
            message = f"HTTP {rsp.status_code}: {detail or rsp.reason_phrase}"
            error = data.get("error") if isinstance(data, dict) else None
            kind = {401: Unauthorized, 403: Forbidden}.get(rsp.status_code, APIError)
            raise kind(message, status_code=rsp.status_code, reason=error, response=rsp)
        return data if isinstance(data, dict) else {}


def _when(value: str | None) -> str:
    if not value:
        return "never"
    try:
        stamp = datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return value
    return stamp.strftime("%Y-%m-%d %H:%M UTC")


def _rows(key: dict[str, Any]) -> list[tuple[str, str]]:
    rows = [
        ("JTI", str(key.get("jti"))),
        ("Name", str(key.get("name"))),
        ("Status", str(key.get("status"))),
        ("Principal", str(key.get("principal"))),
        ("Scope", " ".join(key.get("scope") or []) or "-"),
        ("Expires", _when(key.get("expires_at"))),
        ("Created", _when(key.get("created_at"))),
        ("Issuer", str(key.get("issuer"))),
    ]
    if key.get("service_account"):
        rows.append(("Service account", str(key["service_account"])))
    if key.get("grace_expires_at"):
        rows.append(("Grace until", _when(key["grace_expires_at"])))
    if key.get("rotated_to"):
        rows.append(("Rotated to", str(key["rotated_to"])))
    return rows


def _issued(result: dict[str, Any], output: str) -> None:
    """Print a new token once: the token on stdout, the warning on stderr."""
    Console().warn(str(result.get("warning") or "store this token now: it is shown only once"))
    if output == "json":
        emit(result, output, "")
    else:
        click.echo(str(result["token"]))


api_option = click.option(
    "--api-url",
    default=None,
    help=f"The access-key API (default: ${URL_ENV}, discovery, or <platform>{API_PATH}).",
)
provider_option = click.option(
    "--provider",
    default=None,
    help="OIDCProvider as <namespace>/<name> (default: the platform's default provider).",
)


def _common(function: Any) -> Any:
    for decorate in (output_option, provider_option, api_option, context_option):
        function = decorate(function)
    return function


@click.group("access-keys", cls=AuthGroup)
def access_keys_group() -> None:
    """Scoped access keys: revocable tokens for automation, minted by the platform."""


@access_keys_group.command("create")
@click.option("--name", required=True, help="A name for the key (e.g. the pipeline).")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    help="Scope the key carries (repeatable; default: all of yours).",
)
@click.option(
    "--expires-in",
    default=None,
    help="Lifetime, e.g. 30d, 12h, 3600; 'never' where the provider allows it.",
)
@click.option("--description", default=None)
@click.option(
    "--service-account",
    default=None,
    help="Bind the key to a service account (<name> or <namespace>/<name>; admins).",
)
@_common
def create_command(
    name: str,
    scopes: tuple[str, ...],
    expires_in: str | None,
    description: str | None,
    service_account: str | None,
    context: str | None,
    api_url: str | None,
    provider: str | None,
    output: str,
) -> None:
    """Mint a key; its token is printed once."""
    body: dict[str, Any] = {"name": name}
    if scopes:
        body["scope"] = [s for item in scopes for s in item.split()]
    if expires_in is not None:
        body["expires_in_seconds"] = parse_duration(expires_in)
    if description is not None:
        body["description"] = description
    if service_account is not None:
        body["service_account"] = service_account
    _issued(_Api(context, api_url, provider).call("POST", body=body), output)


@access_keys_group.command("list")
@click.option("--page", type=int, default=1, show_default=True)
@click.option("--page-size", type=int, default=20, show_default=True)
@click.option("--status", default=None, help="Only keys in this status (Active, Revoked, ...).")
@_common
def list_command(
    page: int,
    page_size: int,
    status: str | None,
    context: str | None,
    api_url: str | None,
    provider: str | None,
    output: str,
) -> None:
    """Your keys (every key of the provider for admins)."""
    params = {"page": str(page), "page_size": str(page_size)}
    if status:
        params["status"] = status
    data = _Api(context, api_url, provider).call("GET", params=params)
    items = data.get("items") or []
    human = table(
        ["JTI", "NAME", "STATUS", "SCOPE", "EXPIRES"],
        [
            [
                str(k.get("jti")),
                str(k.get("name")),
                str(k.get("status")),
                " ".join(k.get("scope") or []),
                _when(k.get("expires_at")),
            ]
            for k in items
        ],
    )
    total = data.get("total", len(items))
    emit(
        data,
        output,
        f"{human}\n(page {page}, {len(items)} of {total})"
        if items
        else f"No access keys (page {page} of {total} keys).",
    )


def _one(verb: str, method: str, suffix: str) -> Any:
    @click.argument("jti")
    @_common
    def command(
        jti: str, context: str | None, api_url: str | None, provider: str | None, output: str
    ) -> None:
        if not re.fullmatch(r"ak_[0-9a-f]{32}", jti):
            raise UsageError(f"{jti[:40]!r} is not an access-key id (ak_<32 hex>)")
        key = _Api(context, api_url, provider).call(method, f"/{jti}{suffix}")
        emit(key, output, key_value_table(_rows(key)))

    command.__doc__ = verb
    return command


access_keys_group.command("get")(_one("Show one key.", "GET", ""))
access_keys_group.command("revoke")(
    _one("Revoke a key: every sidecar refuses it within seconds.", "DELETE", "")
)
access_keys_group.command("suspend")(
    _one("Suspend a key (refused until unsuspended).", "POST", "/suspend")
)
access_keys_group.command("unsuspend")(
    _one("Make a suspended key work again.", "POST", "/unsuspend")
)


@access_keys_group.command("rotate")
@click.argument("jti")
@click.option(
    "--grace",
    default=None,
    help="How long the old key keeps working, e.g. 1h (default: the API's, 1 h).",
)
@click.option("--expires-in", default=None, help="Lifetime of the successor (default: the same).")
@_common
def rotate_command(
    jti: str,
    grace: str | None,
    expires_in: str | None,
    context: str | None,
    api_url: str | None,
    provider: str | None,
    output: str,
) -> None:
    """Mint a successor; the old key keeps working for the grace period."""
    if not re.fullmatch(r"ak_[0-9a-f]{32}", jti):
        raise UsageError(f"{jti[:40]!r} is not an access-key id (ak_<32 hex>)")
    body: dict[str, Any] = {}
    if grace is not None:
        body["grace_period_seconds"] = parse_duration(grace)
    if expires_in is not None:
        body["expires_in_seconds"] = parse_duration(expires_in)
    _issued(_Api(context, api_url, provider).call("POST", f"/{jti}/rotate", body=body), output)

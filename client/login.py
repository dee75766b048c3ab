"""``authgate login``: pick the platform and the flow, log in, store the result.

Order of business: resolve which platform (``--base-url``, else the context's
stored cluster), read its discovery document, explain ``auth_enabled: false``
or quickstart mode instead of failing on them, run one flow (device, password
or unsigned quickstart token), warn about a clock far off, then save cluster,
user and context under the file lock and make the context current.

The login may take minutes (a person in a browser), so the config file is read
at the start but only locked for the final write, which re-reads it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from authgate.client.client_credentials import (
    CLIENT_SECRET_ENV,
    client_credentials_login,
    default_scope,
)
from authgate.client.clock import (
    human_duration,
    offset_from_date_header,
    offset_from_iat,
    skew_warning,
)
from authgate.client.device_flow import device_login
from authgate.client.discovery import (
    Discovery,
    fetch_discovery,
    normalize_base_url,
    unavailable_idp,
)
from authgate.client.errors import UsageError, command
from authgate.client.exchange import ExchangeSettings
from authgate.client.exchange_login import login_exchange
from authgate.client.exchange_subject import Subject
from authgate.client.output import Console
from authgate.client.password_grant import MFA_WARNING, password_login
from authgate.client.quickstart import mint as mint_quickstart_token
from authgate.client.scopes import requested_scopes
from authgate.client.store import ClientConfig, Cluster, ConfigStore, Context
from authgate.client.token_check import mismatches
from authgate.client.tokens import TokenSet, identity
from authgate.client.transport import origin, sync_client


@dataclass(frozen=True)
class LoginRequest:
    base_url: str | None = None
    context: str | None = None
    ca_file: str | None = None
    scopes: tuple[str, ...] = ()
    username: str | None = None
    password: str | None = None
    unsigned_token: bool = False
    email: str | None = None
    open_browser: bool = True
    client_credentials: bool = False
    client_id: str | None = None
    client_secret: str | None = None
    exchange_from: Subject | None = None  # token exchange (RFC 8693)
    audience: str | None = None


@dataclass(frozen=True)
class LoginResult:
    context: str
    base_url: str
    auth_enabled: bool
    tokens: TokenSet | None
    clock_offset: float | None

    def summary(self) -> dict[str, object]:
        data: dict[str, object] = {
            "context": self.context,
            "base_url": self.base_url,
            "auth_enabled": self.auth_enabled,
        }
        if self.tokens is not None:
            data.update(
                user=identity(self.tokens),
                grant=self.tokens.grant,
                expires_at=self.tokens.expires_at,
                refresh_token=self.tokens.refresh_token is not None,
                scopes=(self.tokens.scope or "").split(),
            )
        if self.clock_offset is not None:
            data["clock_offset_seconds"] = round(self.clock_offset, 1)
        return data


def context_name(base_url: str) -> str:
    """A default context name from the platform's host and port: ``platform.example.com``."""
    parts = urlsplit(base_url)
    name = parts.hostname or "default"
    if parts.port:
        name += f"-{parts.port}"
    return re.sub(r"[^A-Za-z0-9._-]", "-", name)


def _target(request: LoginRequest, config: ClientConfig) -> tuple[str, str, str | None]:
    """(context name, base URL, CA file) for this login."""
    existing = config.contexts.get(request.context or config.current_context or "")
    cluster = config.clusters.get(existing.cluster) if existing else None
    if request.base_url:
        base_url = normalize_base_url(request.base_url)
        if request.context:
            name = request.context
        else:
            same = [
                n
                for n, c in config.contexts.items()
                if (cl := config.clusters.get(c.cluster)) and cl.base_url == base_url
            ]
            name = same[0] if same else context_name(base_url)
            existing = config.contexts.get(name)
            cluster = config.clusters.get(existing.cluster) if existing else None
    elif cluster is not None:
        base_url = cluster.base_url
        name = request.context or config.current_context or context_name(base_url)
    elif request.context:
        raise UsageError(
            f"context {request.context!r} is not known yet",
            hint="run: " + command(f"login --context {request.context} --base-url URL"),
        )
    else:
        raise UsageError(
            "which platform? no --base-url given and no current context",
            hint="run: " + command("login --base-url https://platform.example.com"),
        )
    ca_file = request.ca_file or (cluster.ca_file if cluster else None)
    if ca_file is None:  # another context for the same platform already knows its CA
        ca_file = next(
            (c.ca_file for c in config.clusters.values() if c.base_url == base_url and c.ca_file),
            None,
        )
    return name, base_url, ca_file


def _check_mode(request: LoginRequest, discovery: Discovery, base_url: str) -> None:
    if discovery.quickstart and not request.unsigned_token:
        raise UsageError(
            f"{origin(base_url)} runs authgate's local quickstart (no identity provider)",
            hint="log in with: " + command("login --unsigned-token --email you@example.com"),
        )
    if request.unsigned_token and not discovery.quickstart:
        raise UsageError(
            f"{origin(base_url)} is not in quickstart mode and would reject an unsigned token",
            hint="log in without --unsigned-token",
        )


def _run_flow(
    request: LoginRequest,
    discovery: Discovery,
    ca_file: str | None,
    console: Console,
    base_url: str,
) -> TokenSet:
    if request.unsigned_token:
        if not request.email:
            raise UsageError("--unsigned-token needs --email")
        return mint_quickstart_token(request.email)
    token_endpoint, client_id = discovery.token_endpoint, discovery.client_id
    if not token_endpoint:
        raise unavailable_idp(base_url, discovery)
    extra = discovery.token_request_params
    if request.client_credentials:
        return _client_credentials(request, discovery, token_endpoint, ca_file)
    if request.exchange_from is not None:
        settings = ExchangeSettings.create(
            client_id=request.client_id,
            client_secret=request.client_secret,
            audience=request.audience,
            scopes=request.scopes,
        )
        with sync_client(ca_file) as http:
            return login_exchange(http, discovery, request.exchange_from, settings, base_url)
    if not client_id:
        raise UsageError("the discovery document names no client for the CLI")
    scope = requested_scopes(discovery.default_scopes, request.scopes, discovery.scope_prefix)
    with sync_client(ca_file) as http:
        if request.username is not None:
            console.warn(MFA_WARNING)
            if request.password is None:
                raise UsageError("no password given")
            body = password_login(
                http,
                token_endpoint,
                client_id,
                username=request.username,
                password=request.password,
                scope=scope,
                extra=extra,
            )
            return TokenSet.from_response(body, grant="password")
        body = device_login(
            http,
            console,
            device_endpoint=discovery.device_authorization_endpoint,
            token_endpoint=token_endpoint,
            client_id=client_id,
            scope=scope,
            open_browser=request.open_browser,
            extra=extra,
        )
        return TokenSet.from_response(body, grant="device")


def _client_credentials(
    request: LoginRequest, discovery: Discovery, token_endpoint: str, ca_file: str | None
) -> TokenSet:
    if not request.client_id or not request.client_secret:
        raise UsageError(
            "--client-credentials needs --client-id and a secret",
            hint=f"pass --client-secret-stdin or set {CLIENT_SECRET_ENV}",
        )
    scope = requested_scopes(
        default_scope(discovery.default_scopes), request.scopes, discovery.scope_prefix
    )
    with sync_client(ca_file) as http:
        return client_credentials_login(
            http,
            token_endpoint,
            client_id=request.client_id,
            client_secret=request.client_secret,
            scope=scope,
            extra=discovery.token_request_params,
            stored_secret=request.client_secret,
        )


def login(request: LoginRequest, store: ConfigStore, console: Console) -> LoginResult:
    chosen = [
        request.unsigned_token,
        request.username is not None,
        request.client_credentials,
        request.exchange_from is not None,
    ]
    if sum(chosen) > 1:
        raise UsageError(
            "choose one of --unsigned-token, --username, --client-credentials and --exchange-from"
        )
    name, base_url, ca_file = _target(request, store.load())
    with sync_client(ca_file) as http:
        discovery = fetch_discovery(http, base_url)

    if not discovery.auth_enabled:
        console.info(
            f"Authentication is disabled on {origin(base_url)}: requests need no "
            "token, so there is nothing to log in to."
        )
        with store.edit() as config:
            config.clusters[name] = Cluster(base_url=base_url, ca_file=ca_file)
            config.contexts[name] = Context(cluster=name, user=name)
            config.users.pop(name, None)
            config.current_context = name
        return LoginResult(name, base_url, False, None, None)

    _check_mode(request, discovery, base_url)
    tokens = _run_flow(request, discovery, ca_file, console, base_url)
    offset = None
    if tokens.grant != "unsigned":
        offset = offset_from_iat(tokens.access_token)
        if offset is None:  # an opaque token: fall back to the platform's Date header
            offset = offset_from_date_header(discovery.server_date)
    warning = skew_warning(offset)
    if warning:
        console.warn(warning)
    for problem in mismatches(tokens.access_token, discovery):
        console.warn(problem + "; logging in again will not help")

    with store.edit() as config:
        config.clusters[name] = Cluster(base_url=base_url, ca_file=ca_file)
        config.users[name] = tokens
        config.contexts[name] = Context(cluster=name, user=name)
        config.current_context = name
    return LoginResult(name, base_url, True, tokens, offset)


def describe(result: LoginResult) -> str:
    if result.tokens is None:
        return f"Context {result.context!r} now points at {result.base_url} (auth disabled)."
    who = identity(result.tokens) or "an unnamed user"
    left = result.tokens.seconds_left()
    expiry = f"expires in {human_duration(left)}" if left is not None else "no expiry given"
    renew = (
        "refresh token stored"
        if result.tokens.refresh_token
        else "re-minted on refresh"
        if result.tokens.grant == "unsigned"
        else "requested again before it expires"
        if result.tokens.grant == "client_credentials"
        else _exchange_renewal(result.tokens)
        if result.tokens.grant == "token_exchange"
        else "no refresh token"
    )
    return (
        f"Logged in to {result.base_url} as {who} (context {result.context!r}).\n"
        f"Access token {expiry}; {renew}."
    )


def _exchange_renewal(tokens: TokenSet) -> str:
    if tokens.subject_file:
        return f"exchanged again from {tokens.subject_file} before it expires"
    return "exchanged from stdin, so not renewed: log in again when it expires"

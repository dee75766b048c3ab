"""The auth commands as one reusable click group: ``auth_group``.

``authgate`` mounts every command of this group at its top level
(``authgate login``); a platform CLI mounts the group itself::

    from authgate.client.cli import auth_group
    platform_cli.add_command(auth_group, name="auth")   # nemo auth login, nemo auth status

Each command runs behind one error boundary (:class:`AuthCommand`): our
exceptions become ``error: <message>`` plus a hint on stderr and the documented
exit code, Ctrl-C exits 130, and no bad input ever shows a traceback. Hints name
the command as the user typed it (``nemo auth login`` when mounted).
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

import click
import yaml

from authgate.client.access_keys import access_keys_group
from authgate.client.client_credentials import CLIENT_ID_ENV, CLIENT_SECRET_ENV, env_secret
from authgate.client.clock import human_duration, offset_from_iat, skew_warning
from authgate.client.commands import (
    AuthGroup,
    context_option,
    mark_root,
    output_option,
)
from authgate.client.errors import (
    NotLoggedIn,
    UsageError,
    command,
)
from authgate.client.login import LoginRequest, describe, login
from authgate.client.output import Console, emit, key_value_table, table
from authgate.client.refresh import CLI_REFRESH_MARGIN, Session, resolve
from authgate.client.revoke import revoke
from authgate.client.sources import Source, env_base_url
from authgate.client.status import auth_disabled, env_login, status_rows
from authgate.client.store import ConfigStore
from authgate.client.tokens import claims, header, identity
from authgate.client.transport import CA_FILE_ENV


@click.group("auth", cls=AuthGroup)
def auth_group() -> None:
    """Log in to an authgate platform and manage your tokens."""


def _store() -> ConfigStore:
    return ConfigStore()


def _read_password(password_stdin: bool, console: Console) -> str:
    if password_stdin:
        value = sys.stdin.readline().rstrip("\r\n")
        if not value:
            raise UsageError("--password-stdin given but stdin was empty")
        return value
    if sys.stdin.isatty():
        value = click.prompt("Password", hide_input=True, err=True)
        return str(value)
    raise UsageError("no password given",
                     hint="use --password-stdin, AUTHGATE_PASSWORD, or run in a terminal "
                          "to be prompted")


@auth_group.command("login")
@click.option("--base-url", envvar="AUTHGATE_BASE_URL",
              help="The platform's URL (default: the context's platform).")
@context_option
@click.option("--scope", "scopes", multiple=True,
              help="Scope to request (repeatable); replaces the platform's default scopes.")
@click.option("--ca-file", envvar=CA_FILE_ENV, type=click.Path(dir_okay=False),
              help="PEM CA bundle to trust for the platform and its IdP (stored per cluster).")
@click.option("--username", envvar="AUTHGATE_USERNAME",
              help="Log in with the password grant as this user (CI).")
@click.option("--password", envvar="AUTHGATE_PASSWORD",
              help="Password for --username (prefer --password-stdin or the prompt).")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
@click.option("--unsigned-token", is_flag=True,
              help="Quickstart platforms only: mint an unsigned token for --email.")
@click.option("--email", help="Email for --unsigned-token.")
@click.option("--no-browser", is_flag=True, help="Do not open a browser for the device flow.")
@click.option("--client-credentials", is_flag=True,
              help="Log in as a confidential client (CI, services): RFC 6749 §4.4.")
@click.option("--client-id", envvar=CLIENT_ID_ENV, help="The client for --client-credentials.")
@click.option("--client-secret-stdin", is_flag=True,
              help=f"Read the client secret from stdin (or set {CLIENT_SECRET_ENV}).")
@output_option
def login_command(base_url: str | None, context: str | None, scopes: tuple[str, ...],
                  ca_file: str | None, username: str | None, password: str | None,
                  password_stdin: bool, unsigned_token: bool, email: str | None,
                  no_browser: bool, client_credentials: bool, client_id: str | None,
                  client_secret_stdin: bool, output: str) -> None:
    """Log in: device flow by default, password grant with --username, client
    credentials with --client-credentials, or an unsigned quickstart token with
    --unsigned-token --email."""
    console = Console()
    if email and not unsigned_token:
        raise UsageError("--email is only used with --unsigned-token")
    client_secret: str | None = None
    if client_credentials:
        if not client_id:
            raise UsageError("--client-credentials needs --client-id (or AUTHGATE_CLIENT_ID)")
        if client_secret_stdin:
            client_secret = sys.stdin.readline().strip()
            if not client_secret:
                raise UsageError("--client-secret-stdin given but stdin was empty")
        else:
            client_secret = env_secret()
        if not client_secret:
            raise UsageError("no client secret given",
                             hint=f"use --client-secret-stdin or set {CLIENT_SECRET_ENV}")
        username = password = None  # AUTHGATE_USERNAME in the environment is not for this
    elif client_id or client_secret_stdin:
        raise UsageError("--client-id/--client-secret-stdin need --client-credentials")
    if (password is not None or password_stdin) and username is None:
        raise UsageError("--password/--password-stdin need --username")
    if username is not None and password is None:
        password = _read_password(password_stdin, console)
    if ca_file:
        ca_file = os.path.abspath(ca_file)
    request = LoginRequest(base_url=base_url, context=context, ca_file=ca_file, scopes=scopes,
                           username=username, password=password, unsigned_token=unsigned_token,
                           email=email, open_browser=not no_browser,
                           client_credentials=client_credentials, client_id=client_id,
                           client_secret=client_secret)
    result = login(request, _store(), console)
    emit(result.summary(), output, describe(result))


token_option = click.option(
    "--token", "token", default=None,
    help="Use this token instead of AUTHGATE_TOKEN, AUTHGATE_TOKEN_FILE or the stored login.")


@auth_group.command("status")
@context_option
@token_option
@output_option
def status_command(context: str | None, token: str | None, output: str) -> None:
    """Who you are logged in as, with which scopes, until when, and which
    credential source is in use (the token itself is never shown)."""
    store = _store()
    from_env = env_login(token)
    if from_env is not None:
        source, tokens = from_env
        data, rows = status_rows(tokens)
        platform = env_base_url() or "-"
        data = {"credential_source": source.kind, "credential_detail": source.detail,
                "base_url": env_base_url(), **data}
        rows = [("Credential source", source.describe()), ("Platform", platform), *rows]
        emit(data, output, key_value_table([r for r in rows if r[0] != "Refresh token"]))
        return
    try:
        current = resolve(store.load(), context, store.path)
    except NotLoggedIn:
        disabled = auth_disabled(store, context)
        if disabled is None:
            raise
        emit({"base_url": disabled, "auth_enabled": False}, output,
             f"Authentication is disabled on {disabled}: requests need no token, "
             "so there is nothing to log in to.")
        return
    data, rows = status_rows(current.tokens)
    source = Source("login", current.context)
    data = {"context": current.context, "base_url": current.cluster.base_url,
            "credential_source": source.kind, **data, "config_file": str(store.path)}
    rows = [("Credential source", source.describe()), ("Context", current.context),
            ("Platform", current.cluster.base_url), *rows, ("Config file", str(store.path))]
    warning = skew_warning(offset_from_iat(current.tokens.access_token))
    if warning and current.tokens.obtained_at and time.time() - current.tokens.obtained_at < 60:
        Console().warn(warning)
    emit(data, output, key_value_table(rows))


@auth_group.command("token")
@context_option
@token_option
@click.option("--decode", is_flag=True, help="Print the token's header and claims, not the token.")
def token_command(context: str | None, token: str | None, decode: bool) -> None:
    """Print a valid access token (refreshed when under 5 minutes are left), from
    the first credential source set: --token, AUTHGATE_TOKEN, AUTHGATE_TOKEN_FILE,
    the stored login.

    Use it with curl:  curl -H "Authorization: Bearer $(authgate token)" URL
    """
    from_env = env_login(token)
    if from_env is not None:
        access = from_env[1].access_token
    else:
        access = Session.shared(_store(), context).token(CLI_REFRESH_MARGIN).tokens.access_token
    if decode:
        decoded = {"header": header(access), "claims": claims(access)}
        if not decoded["claims"]:
            raise UsageError("the access token is not a JWT; there is nothing to decode")
        click.echo(json.dumps(decoded, indent=2))
    else:
        click.echo(access)


@auth_group.command("refresh")
@context_option
@output_option
def refresh_command(context: str | None, output: str) -> None:
    """Renew the access token now (quickstart logins are re-minted)."""
    current = Session.shared(_store(), context).refresh()
    left = current.tokens.seconds_left()
    human = (f"Refreshed context {current.context!r}: access token expires in "
             f"{human_duration(left) if left is not None else 'an unknown time'}.")
    emit({"context": current.context, "expires_at": current.tokens.expires_at,
          "refresh_token": current.tokens.refresh_token is not None}, output, human)


@auth_group.command("logout")
@context_option
def logout_command(context: str | None) -> None:
    """Revoke this context's refresh token at the IdP (RFC 7009) and forget its
    tokens (the context and platform are kept)."""
    store = _store()
    config = store.load()
    name = context or config.current_context
    if not name or name not in config.contexts:
        raise NotLoggedIn("no such context to log out of" if name else "no current context")
    entry = config.contexts[name]
    tokens, cluster = config.users.get(entry.user), config.clusters.get(entry.cluster)
    revocation = revoke(cluster, tokens) if tokens and cluster else None
    with store.edit() as config:
        removed = config.users.pop(entry.user, None)
    if removed is None:
        click.echo(f"Context {name!r} was not logged in.")
        return
    if revocation is not None and revocation.message:
        click.echo(revocation.message)
    click.echo(f"Logged out of context {name!r}: its tokens are removed from {store.path}.")


@auth_group.group("config", cls=AuthGroup)
def config_group() -> None:
    """Show and switch contexts in the config file."""


def _redacted(document: dict[str, Any]) -> dict[str, Any]:
    for entry in document.get("users", []):
        user = entry.get("user", {})
        for key in ("access_token", "refresh_token", "id_token", "client_secret"):
            if key in user:
                user[key] = "REDACTED"
    return document


@config_group.command("view")
@click.option("--output", "-o", "output", type=click.Choice(["yaml", "json"]), default="yaml",
              show_default=True)
def config_view(output: str) -> None:
    """Print the config file with tokens redacted."""
    store = _store()
    document = _redacted(store.load().to_document())
    if output == "json":
        click.echo(json.dumps(document, indent=2))
    else:
        click.echo(f"# {store.path}")
        click.echo(yaml.safe_dump(document, sort_keys=False).rstrip())


@config_group.command("use-context")
@click.argument("name")
def config_use_context(name: str) -> None:
    """Make NAME the current context."""
    store = _store()
    with store.edit() as config:
        if name not in config.contexts:
            known = ", ".join(sorted(config.contexts)) or "none"
            raise NotLoggedIn(f"no context named {name!r} (known: {known})",
                              hint="create it with: " + command(
                                  f"login --context {name} --base-url URL"))
        config.current_context = name
    click.echo(f"Switched to context {name!r}.")


@config_group.command("current-context")
def config_current_context() -> None:
    """Print the current context's name."""
    store = _store()
    current = store.load().current_context
    if not current:
        raise NotLoggedIn("no current context", hint="run: " + command("login --base-url URL"))
    click.echo(current)


@config_group.command("get-contexts")
@output_option
def config_get_contexts(output: str) -> None:
    """List contexts: name, platform, user, logged in or not."""
    config = _store().load()
    rows = []
    for name, entry in sorted(config.contexts.items()):
        cluster = config.clusters.get(entry.cluster)
        tokens = config.users.get(entry.user)
        rows.append({"current": name == config.current_context, "name": name,
                     "base_url": cluster.base_url if cluster else None,
                     "user": identity(tokens) if tokens else None,
                     "logged_in": tokens is not None})
    human = table(["CURRENT", "NAME", "PLATFORM", "USER"],
                  [["*" if r["current"] else "", str(r["name"]), str(r["base_url"] or "-"),
                    str(r["user"] or "-")] for r in rows])
    emit({"contexts": rows}, output, human)


mark_root(auth_group)
auth_group.add_command(access_keys_group)

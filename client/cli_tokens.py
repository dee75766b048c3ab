"""The commands over the stored (or environment) credentials: ``status``, ``token``,
``refresh`` and ``logout``."""

from __future__ import annotations

import json
import time

import click

from authgate.client.clock import human_duration, offset_from_iat, skew_warning
from authgate.client.commands import AuthCommand, context_option, output_option
from authgate.client.errors import NotLoggedIn, UsageError
from authgate.client.output import Console, emit, key_value_table
from authgate.client.refresh import CLI_REFRESH_MARGIN, Session, resolve
from authgate.client.revoke import revoke
from authgate.client.sources import Source, env_base_url
from authgate.client.status import auth_disabled, env_login, status_rows
from authgate.client.store import ConfigStore
from authgate.client.tokens import claims, header

__all__ = ["logout_command", "refresh_command", "status_command", "token_command"]


token_option = click.option(
    "--token",
    "token",
    default=None,
    help="Use this token instead of AUTHGATE_TOKEN, AUTHGATE_TOKEN_FILE or the stored login.",
)


@click.command("status", cls=AuthCommand)
@context_option
@token_option
@output_option
def status_command(context: str | None, token: str | None, output: str) -> None:
    """Who you are logged in as, with which scopes, until when, and which
    credential source is in use (the token itself is never shown)."""
    store = ConfigStore()
    from_env = env_login(token)
    if from_env is not None:
        source, tokens = from_env
        data, rows = status_rows(tokens)
        platform = env_base_url() or "-"
        data = {
            "credential_source": source.kind,
            "credential_detail": source.detail,
            "base_url": env_base_url(),
            **data,
        }
        rows = [("Credential source", source.describe()), ("Platform", platform), *rows]
        emit(data, output, key_value_table([r for r in rows if r[0] != "Refresh token"]))
        return
    try:
        current = resolve(store.load(), context, store.path)
    except NotLoggedIn:
        disabled = auth_disabled(store, context)
        if disabled is None:
            raise
        emit(
            {"base_url": disabled, "auth_enabled": False},
            output,
            f"Authentication is disabled on {disabled}: requests need no token, "
            "so there is nothing to log in to.",
        )
        return
    data, rows = status_rows(current.tokens)
    source = Source("login", current.context)
    data = {
        "context": current.context,
        "base_url": current.cluster.base_url,
        "credential_source": source.kind,
        **data,
        "config_file": str(store.path),
    }
    rows = [
        ("Credential source", source.describe()),
        ("Context", current.context),
        ("Platform", current.cluster.base_url),
        *rows,
        ("Config file", str(store.path)),
    ]
    warning = skew_warning(offset_from_iat(current.tokens.access_token))
    if warning and current.tokens.obtained_at and time.time() - current.tokens.obtained_at < 60:
        Console().warn(warning)
    emit(data, output, key_value_table(rows))


@click.command("token", cls=AuthCommand)
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
        session = Session.shared(ConfigStore(), context)
        access = session.token(CLI_REFRESH_MARGIN).tokens.access_token
    if decode:
        decoded = {"header": header(access), "claims": claims(access)}
        if not decoded["claims"]:
            raise UsageError("the access token is not a JWT; there is nothing to decode")
        click.echo(json.dumps(decoded, indent=2))
    else:
        click.echo(access)


@click.command("refresh", cls=AuthCommand)
@context_option
@output_option
def refresh_command(context: str | None, output: str) -> None:
    """Renew the access token now (quickstart logins are re-minted)."""
    current = Session.shared(ConfigStore(), context).refresh()
    left = current.tokens.seconds_left()
    human = (
        f"Refreshed context {current.context!r}: access token expires in "
        f"{human_duration(left) if left is not None else 'an unknown time'}."
    )
    emit(
        {
            "context": current.context,
            "expires_at": current.tokens.expires_at,
            "refresh_token": current.tokens.refresh_token is not None,
        },
        output,
        human,
    )


@click.command("logout", cls=AuthCommand)
@context_option
def logout_command(context: str | None) -> None:
    """Revoke this context's refresh token at the IdP (RFC 7009) and forget its
    tokens (the context and platform are kept)."""
    store = ConfigStore()
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

"""``login``: the device flow, the password grant, client credentials or an unsigned
quickstart token, chosen from the flags (the flows themselves are in :mod:`.login`)."""

from __future__ import annotations

import os
import sys

import click

from authgate.client.cli_exchange import exchange_options, exchange_subject
from authgate.client.client_credentials import CLIENT_ID_ENV, CLIENT_SECRET_ENV, read_client_secret
from authgate.client.commands import AuthCommand, context_option, output_option
from authgate.client.errors import UsageError
from authgate.client.login import LoginRequest, describe, login
from authgate.client.output import Console, emit
from authgate.client.store import ConfigStore
from authgate.client.transport import CA_FILE_ENV

__all__ = ["login_command"]


def _read_password(password_stdin: bool, console: Console) -> str:
    if password_stdin:
        value = sys.stdin.readline().rstrip("\r\n")
        if not value:
            raise UsageError("--password-stdin given but stdin was empty")
        return value
    if sys.stdin.isatty():
        value = click.prompt("Password", hide_input=True, err=True)
        return str(value)
    raise UsageError(
        "no password given",
        hint="use --password-stdin, AUTHGATE_PASSWORD, or run in a terminal to be prompted",
    )


@click.command("login", cls=AuthCommand)
@click.option(
    "--base-url",
    envvar="AUTHGATE_BASE_URL",
    help="The platform's URL (default: the context's platform).",
)
@context_option
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    help="Scope to request (repeatable); replaces the platform's default scopes.",
)
@click.option(
    "--ca-file",
    envvar=CA_FILE_ENV,
    type=click.Path(dir_okay=False),
    help="PEM CA bundle to trust for the platform and its IdP (stored per cluster).",
)
@click.option(
    "--username",
    envvar="AUTHGATE_USERNAME",
    help="Log in with the password grant as this user (CI).",
)
@click.option(
    "--password",
    envvar="AUTHGATE_PASSWORD",
    help="Password for --username (prefer --password-stdin or the prompt).",
)
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
@click.option(
    "--unsigned-token",
    is_flag=True,
    help="Quickstart platforms only: mint an unsigned token for --email.",
)
@click.option("--email", help="Email for --unsigned-token.")
@click.option("--no-browser", is_flag=True, help="Do not open a browser for the device flow.")
@click.option(
    "--client-credentials",
    is_flag=True,
    help="Log in as a confidential client (CI, services): RFC 6749 §4.4.",
)
@click.option("--client-id", envvar=CLIENT_ID_ENV, help="The client for --client-credentials.")
@click.option(
    "--client-secret-stdin",
    is_flag=True,
    help=f"Read the client secret from stdin (or set {CLIENT_SECRET_ENV}).",
)
@exchange_options
@output_option
def login_command(
    base_url: str | None,
    context: str | None,
    scopes: tuple[str, ...],
    ca_file: str | None,
    username: str | None,
    password: str | None,
    password_stdin: bool,
    unsigned_token: bool,
    email: str | None,
    no_browser: bool,
    client_credentials: bool,
    client_id: str | None,
    client_secret_stdin: bool,
    exchange_from: str | None,
    audience: str | None,
    output: str,
) -> None:
    """Log in: device flow by default, password grant with --username, client
    credentials with --client-credentials, token exchange (RFC 8693) with
    --exchange-from FILE|-, or an unsigned quickstart token with --unsigned-token --email."""
    console = Console()
    if email and not unsigned_token:
        raise UsageError("--email is only used with --unsigned-token")
    client_secret: str | None = None
    subject = None
    if exchange_from is not None or audience is not None:
        subject, client_secret = exchange_subject(
            exchange_from, audience, client_id, client_secret_stdin, client_credentials
        )
        username = password = None
    elif client_credentials:
        if not client_id:
            raise UsageError("--client-credentials needs --client-id (or AUTHGATE_CLIENT_ID)")
        client_secret = read_client_secret(client_secret_stdin)
        if not client_secret:
            raise UsageError(
                "no client secret given",
                hint=f"use --client-secret-stdin or set {CLIENT_SECRET_ENV}",
            )
        username = password = None  # AUTHGATE_USERNAME in the environment is not for this
    elif client_id or client_secret_stdin:
        raise UsageError("--client-id/--client-secret-stdin need --client-credentials")
    if (password is not None or password_stdin) and username is None:
        raise UsageError("--password/--password-stdin need --username")
    if username is not None and password is None:
        password = _read_password(password_stdin, console)
    if ca_file:
        ca_file = os.path.abspath(ca_file)
    request = LoginRequest(
        base_url=base_url,
        context=context,
        ca_file=ca_file,
        scopes=scopes,
        username=username,
        password=password,
        unsigned_token=unsigned_token,
        email=email,
        open_browser=not no_browser,
        client_credentials=client_credentials,
        client_id=client_id,
        client_secret=client_secret,
        exchange_from=subject,
        audience=audience,
    )
    result = login(request, ConfigStore(), console)
    emit(result.summary(), output, describe(result))

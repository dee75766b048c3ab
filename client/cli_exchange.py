"""``authgate login --exchange-from FILE|-``: the CLI side of token exchange (RFC 8693).

Kept apart from :mod:`authgate.client.cli` so the login command only gains two
options and one call. The subject token comes from a file (re-read at every
renewal, so a rotated file is picked up) or from one line of stdin (``-``),
never from the command line itself. A confidential client is named with
``--client-id`` / ``AUTHGATE_CLIENT_ID``; its secret comes from
``AUTHGATE_CLIENT_SECRET`` or ``--client-secret-stdin`` (not with ``-``: stdin
then holds the subject token).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from authgate.client.client_credentials import CLIENT_SECRET_ENV, read_client_secret
from authgate.client.errors import UsageError
from authgate.client.exchange_subject import Subject, login_subject

F = TypeVar("F", bound=Callable[..., Any])


def exchange_options(function: F) -> F:
    """``--exchange-from`` and ``--audience`` for the login command."""
    function = click.option(
        "--audience",
        default=None,
        help="With --exchange-from: the audience to ask the IdP for (RFC 8693).",
    )(function)
    decorated: F = click.option(
        "--exchange-from",
        "exchange_from",
        metavar="FILE|-",
        default=None,
        help="Exchange the token in FILE (or on stdin, '-') for a platform token "
        "(RFC 8693 token exchange).",
    )(function)
    return decorated


def exchange_subject(
    exchange_from: str | None,
    audience: str | None,
    client_id: str | None,
    client_secret_stdin: bool,
    client_credentials: bool,
) -> tuple[Subject, str | None]:
    """The subject token and the client secret (None: a public client) of an exchange login."""
    if exchange_from is None:
        raise UsageError("--audience is only used with --exchange-from")
    if client_credentials:
        raise UsageError("choose one of --client-credentials and --exchange-from")
    if exchange_from == "-" and client_secret_stdin:
        raise UsageError(
            "--exchange-from - reads the subject token from stdin, so the secret "
            "cannot come from there too",
            hint=f"set {CLIENT_SECRET_ENV}",
        )
    secret = read_client_secret(client_secret_stdin)
    if secret and not client_id:
        raise UsageError("a client secret needs --client-id (or AUTHGATE_CLIENT_ID)")
    line = sys.stdin.readline() if exchange_from == "-" else None
    return login_subject(exchange_from, line), secret

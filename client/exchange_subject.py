"""Where a token exchange's subject token (RFC 8693 §2.1 ``subject_token``) comes from.

Kept apart from the grant request (:mod:`authgate.client.exchange`) because telling a
path from a token is its own, security-relevant decision: the value may be a
workload's live token, so it is classified without ever being echoed, and a file is
re-read when it changes (the kubelet and CI agents rotate token files, as for
``AUTHGATE_TOKEN_FILE``).  A ``pathlib.Path``, an existing file, or a string with
``/`` or ``~`` in it is a path; a JWT-shaped string is a token.  The CLI
(:func:`login_subject`) never takes a token on the command line at all, where
``ps`` and shell history would show it.
"""

from __future__ import annotations

import os
import re

from authgate.client.errors import CredentialSourceError
from authgate.client.sources import TokenFile, check_token

_JWT = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$")


class Subject:
    """Where the subject token comes from: a file (re-read on change) or a fixed token."""

    def __init__(
        self, *, token: str | None = None, file: TokenFile | None = None, where: str
    ) -> None:
        self._token, self.file, self.where = token, file, where

    @property
    def path(self) -> str | None:
        return self.file.path if self.file is not None else None

    def read(self, *, force: bool = False) -> str:
        if self.file is not None:
            return self.file.read(force=force)
        assert self._token is not None
        return self._token


def exchange_source(value: str | os.PathLike[str], where: str = "exchange_from") -> Subject:
    """A :class:`Subject` for ``value`` (see the module doc for path versus token)."""
    if isinstance(value, os.PathLike):
        return file_subject(os.fspath(value), where)
    text = value.strip()
    if not text:
        raise CredentialSourceError(f"{where} is empty", hint="pass a token file's path or a token")
    looks_like_path = (
        "/" in text or text.startswith("~") or os.path.exists(os.path.expanduser(text))
    )
    if looks_like_path and not _JWT.match(text):
        return file_subject(text, where)
    named = where if _JWT.match(text) else f"{where} (taken as a token: no file of that name)"
    return Subject(token=check_token(text, where), where=named)


def file_subject(path: str, where: str) -> Subject:
    """A subject read from ``path``, read once now so a bad file fails here, naming it."""
    token_file = TokenFile(
        os.path.expanduser(path),
        label=f"{where}={path}",
        hint=f"point {where} at a readable file holding one token",
    )
    token_file.read()  # fail now, naming the file, rather than on the first request
    return Subject(file=token_file, where=f"{where}={path}")


def login_subject(value: str, stdin_line: str | None) -> Subject:
    """The subject of ``--exchange-from``: a file (never a token on the command line,
    where ``ps`` and shell history would show it), or ``-`` for one line of stdin."""
    if value == "-":
        return Subject(
            token=check_token(stdin_line or "", "the subject token on stdin"), where="stdin"
        )
    return file_subject(os.path.abspath(os.path.expanduser(value)), "--exchange-from")

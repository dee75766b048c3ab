"""Where the bearer token comes from, in a fixed order.

1. an explicit argument: ``Client(token=...)`` / ``access_token=``, ``--token``;
2. ``AUTHGATE_TOKEN``: a token in the environment (a CI system's OIDC token);
3. ``AUTHGATE_TOKEN_FILE``: a file holding one, such as a projected
   service-account token (``/var/run/secrets/tokens/platform``) or a CI
   system's OIDC token file.  The kubelet rotates projected tokens by swapping
   the file (an atomic symlink flip), so the file is re-read whenever it
   changes — its device, inode, size or mtime — and once more after a 401;
4. the stored login of the current context (``authgate login``).

The first one that is *set* is used; one that is set but unusable (empty,
missing, unreadable, not a bearer token) is an error naming the source, never
a silent fall-through to the next, because a job that meant to use its
service-account token must not quietly act as the person logged in on the
machine.  ``authgate status`` shows the source in use ("Credential source")
and never the token.

A token file that is momentarily empty or half-written while a non-atomic
writer replaces it keeps the previous good token until the next read, so
requests in flight across a swap do not fail.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass

from authgate.client.errors import CredentialSourceError

TOKEN_ENV = "AUTHGATE_TOKEN"  # noqa: S105 - a variable name
TOKEN_FILE_ENV = "AUTHGATE_TOKEN_FILE"  # noqa: S105 - a variable name
BASE_URL_ENV = "AUTHGATE_BASE_URL"
MAX_TOKEN_FILE_BYTES = 64 * 1024
# RFC 6750 §2.1 b64token: what a bearer token may consist of.
_B64TOKEN = re.compile(r"^[A-Za-z0-9\-._~+/]+=*$")


def check_token(value: str, where: str) -> str:
    """``value`` stripped, or CredentialSourceError saying why it is no bearer token."""
    token = value.strip()
    if not token:
        raise CredentialSourceError(
            f"{where} is empty", hint="set it to a bearer token, or unset it"
        )
    if not _B64TOKEN.match(token):
        raise CredentialSourceError(
            f"{where} does not hold a bearer token (RFC 6750 allows letters, digits and "
            "-._~+/ only; it has spaces, line breaks or other characters)",
            hint="it must contain exactly one token, such as a JWT",
        )
    return token


@dataclass(frozen=True)
class Source:
    """Which source is in use: ``kind`` is argument, exchange, AUTHGATE_TOKEN,
    AUTHGATE_TOKEN_FILE or login; ``detail`` the file path or the context name."""

    kind: str
    detail: str = ""

    def describe(self) -> str:
        if self.kind == "login":
            return f"stored login (context {self.detail!r})"
        if self.kind == TOKEN_FILE_ENV:
            return f"{TOKEN_FILE_ENV} ({self.detail})"
        if self.kind == "argument":
            return "explicit token (--token / token=)"
        if self.kind == "exchange":
            return f"token exchange (RFC 8693) of {self.detail}"
        return self.kind


class TokenFile:
    """A token file, re-read when it changes (thread-safe)."""

    def __init__(self, path: str, *, label: str | None = None, hint: str | None = None) -> None:
        self.path = path
        self.label = label or f"{TOKEN_FILE_ENV}={path}"  # how messages name the file
        self.hint = hint or (
            f"point {TOKEN_FILE_ENV} at a readable file holding one token, or unset it"
        )
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int, int] | None = None
        self._token: str | None = None

    def _problem(self, message: str) -> CredentialSourceError:
        return CredentialSourceError(f"{self.label}: {message}", hint=self.hint)

    def read(self, *, force: bool = False) -> str:
        """The current token; the file is read again only when it changed (or ``force``)."""
        with self._lock:
            try:
                st = os.stat(self.path)
            except FileNotFoundError:
                if self._token is not None:
                    return self._token  # mid-swap: the link is being replaced
                raise self._problem("no such file") from None
            except OSError as exc:
                raise self._problem(f"cannot read it ({exc.strerror or exc})") from None
            stamp = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
            if not force and stamp == self._stamp and self._token is not None:
                return self._token
            try:
                if os.path.isdir(self.path):
                    raise self._problem("is a directory")
                with open(self.path, "rb") as handle:
                    raw = handle.read(MAX_TOKEN_FILE_BYTES + 1)
            except CredentialSourceError:
                raise
            except OSError as exc:
                raise self._problem(f"cannot read it ({exc.strerror or exc})") from None
            try:
                text = raw.decode("ascii")
                if len(raw) > MAX_TOKEN_FILE_BYTES:
                    raise ValueError
                token = check_token(text, self.label)
            except (ValueError, CredentialSourceError) as exc:
                if self._token is not None:
                    return self._token  # half-written: keep the last good one, retry next time
                if isinstance(exc, CredentialSourceError):
                    raise
                raise self._problem("does not hold a bearer token (binary or too large)") from None
            self._stamp, self._token = stamp, token
            return token


def env_source(environ: Mapping[str, str] | None = None) -> tuple[Source, str | TokenFile] | None:
    """The environment's token source (``AUTHGATE_TOKEN`` first), or None when neither is set."""
    env = os.environ if environ is None else environ
    if TOKEN_ENV in env:
        return Source(TOKEN_ENV), check_token(env[TOKEN_ENV], TOKEN_ENV)
    if TOKEN_FILE_ENV in env:
        path = env[TOKEN_FILE_ENV].strip()
        if not path:
            raise CredentialSourceError(
                f"{TOKEN_FILE_ENV} is set but empty",
                hint="set it to a token file's path, or unset it",
            )
        token_file = TokenFile(path)
        token_file.read()  # fail now, with the file named, rather than on the first request
        return Source(TOKEN_FILE_ENV, path), token_file
    return None


def env_base_url(environ: Mapping[str, str] | None = None) -> str | None:
    env = os.environ if environ is None else environ
    value = env.get(BASE_URL_ENV, "").strip()
    return value or None

"""Exceptions of the CLI and SDK, and the exit code each one maps to.

Every failure a user can cause (bad flags, a wrong password, an unreachable
IdP, a corrupt config file, ...) is raised as a :class:`ClientError` subclass
carrying a one-line message and, where useful, a hint saying what to do next.
The CLI catches them at its boundary and turns them into that message plus a
documented exit code, so no bad input ever shows a traceback. SDK users catch
the same types.

Messages never contain a token: they are built from OAuth error codes, HTTP
statuses and file paths only.
"""

from __future__ import annotations

from contextvars import ContextVar
from enum import IntEnum
from typing import Any


class ExitCode(IntEnum):
    """Process exit codes of ``authgate`` auth commands (documented in docs/client.md)."""

    OK = 0
    UNEXPECTED = 1
    USAGE = 2
    CONFIG = 3
    NOT_LOGGED_IN = 4
    DISCOVERY = 5
    UNREACHABLE = 6
    LOGIN_REJECTED = 7
    ACCESS_DENIED = 8
    DEVICE_CODE_EXPIRED = 9
    SESSION_EXPIRED = 10
    API = 11
    CREDENTIALS = 12
    EXCHANGE_UNSUPPORTED = 13  # the IdP offers no token exchange (RFC 8693) to this client
    INTERRUPTED = 130
    PIPE_CLOSED = 141  # 128 + SIGPIPE: the reader of stdout went away (`| head`)


class ClientError(Exception):
    """Base of every error raised by ``authgate.client``."""

    exit_code: ExitCode = ExitCode.UNEXPECTED

    def __init_subclass__(cls, *, exit_code: ExitCode | None = None, **kwargs: Any) -> None:
        """``class NotLoggedIn(ClientError, exit_code=ExitCode.NOT_LOGGED_IN)``: the exit
        code stands in the class line, so the table of errors reads as one; a subclass
        without one inherits its base's."""
        super().__init_subclass__(**kwargs)
        if exit_code is not None:
            cls.exit_code = exit_code

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message} ({self.hint})"
        return self.message


class UsageError(ClientError, exit_code=ExitCode.USAGE):
    """Flags or arguments that do not fit together."""


class ConfigFileError(ClientError, exit_code=ExitCode.CONFIG):
    """The config file is corrupt, unreadable or readable by other users."""


class NotLoggedIn(ClientError, exit_code=ExitCode.NOT_LOGGED_IN):
    """No context, no cluster or no credentials to use."""


class DiscoveryError(ClientError, exit_code=ExitCode.DISCOVERY):
    """The base URL does not serve a usable authgate discovery document."""


class Unreachable(ClientError, exit_code=ExitCode.UNREACHABLE):
    """A network error or timeout talking to the platform or the IdP."""


class LoginRejected(ClientError, exit_code=ExitCode.LOGIN_REJECTED):
    """The IdP refused the login (wrong credentials, grant not allowed, ...)."""

    def __init__(self, message: str, *, hint: str | None = None, error: str | None = None):
        super().__init__(message, hint=hint)
        self.error = error  # the OAuth error code (RFC 6749 §5.2), when there is one


class AccessDenied(LoginRejected, exit_code=ExitCode.ACCESS_DENIED):
    """The user declined the device authorization request (RFC 8628 §3.5)."""


class DeviceCodeExpired(LoginRejected, exit_code=ExitCode.DEVICE_CODE_EXPIRED):
    """The device code expired before the user finished (RFC 8628 §3.5)."""


class SessionExpired(ClientError, exit_code=ExitCode.SESSION_EXPIRED):
    """The refresh token is dead (expired, revoked or logged out): log in again."""


class CredentialSourceError(ClientError, exit_code=ExitCode.CREDENTIALS):
    """``--token``, ``AUTHGATE_TOKEN`` or ``AUTHGATE_TOKEN_FILE`` is set but unusable
    (empty, unreadable, missing, or not a bearer token)."""


class APIError(ClientError, exit_code=ExitCode.API):
    """The platform answered an SDK request with an error status."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        reason: str | None = None,
        hint: str | None = None,
        response: Any = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.status_code = status_code
        self.reason = reason  # authgate's machine-readable reason, e.g. "token_expired"
        self.response = response  # the httpx.Response, for its body and headers


class Unauthorized(APIError):
    """401 even after one refresh: the token is not accepted."""


class Forbidden(APIError):
    """403: authenticated, but missing a scope or group."""


# How the user invokes the auth commands: "authgate" (``authgate login``), or a
# platform CLI's path such as "nemo auth" when it mounts ``auth_group``. Hints
# in messages are built with :func:`command`, so they name what the user types.
command_prefix: ContextVar[str] = ContextVar("command_prefix", default="authgate")


def command(args: str) -> str:
    """``command("login")`` → ``"authgate login"`` (or ``"nemo auth login"`` when mounted)."""
    return f"{command_prefix.get()} {args}"

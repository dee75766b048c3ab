"""The CLI and SDK: login flows, the token store, refresh and ``Client``.

    from authgate.client import Client
    client = Client()          # after `authgate login`: base URL and token from the config
    client.get("/apis/...")

Importing this package does not import click, aiohttp or kopf.
"""

from authgate.client.errors import (
    AccessDenied,
    APIError,
    ClientError,
    ConfigFileError,
    DeviceCodeExpired,
    DiscoveryError,
    ExitCode,
    Forbidden,
    LoginRejected,
    NotLoggedIn,
    SessionExpired,
    Unauthorized,
    Unreachable,
    UsageError,
)
from authgate.client.sdk import AsyncClient, Client

__all__ = [
    "APIError",
    "AccessDenied",
    "AsyncClient",
    "Client",
    "ClientError",
    "ConfigFileError",
    "DeviceCodeExpired",
    "DiscoveryError",
    "ExitCode",
    "Forbidden",
    "LoginRejected",
    "NotLoggedIn",
    "SessionExpired",
    "Unauthorized",
    "Unreachable",
    "UsageError",
]

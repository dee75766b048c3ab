"""``Client`` and ``AsyncClient``: call the platform without handling tokens.

After ``authgate login``, ``Client()`` needs no arguments: the base URL, CA
file and tokens come from the CLI's config file (current context). Explicit
``base_url=``, ``token=`` (or ``access_token=``) and ``context=`` override it.
The token comes from the first source that is set: ``token=``,
``AUTHGATE_TOKEN``, ``AUTHGATE_TOKEN_FILE`` (re-read when it changes, for
projected service-account tokens), then the stored login
(:mod:`authgate.client.sources`); with an environment source the base URL
comes from ``base_url=``, ``AUTHGATE_BASE_URL`` or the current context.
``exchange_from=`` (a token file or a token) instead trades that token for a
platform token at the IdP (RFC 8693, :mod:`authgate.client.exchange`),
optionally for ``exchange_audience=`` / ``exchange_scope=``, as the
confidential client ``client_id=`` / ``client_secret=`` (default
``AUTHGATE_CLIENT_ID`` / ``AUTHGATE_CLIENT_SECRET``), and exchanges again
before the result expires or when the file changes.

Tokens are renewed lazily, when less than 60 s are left, and once more after
a 401 (the token may have been revoked or the clock may be off), through the
process-wide :class:`~authgate.client.refresh.Session`, so every client in a
process shares one token and concurrent processes coordinate through the
config file's lock. An explicit ``access_token=`` is used as is and never
renewed.

Errors are our own types: :class:`~authgate.client.errors.NotLoggedIn`,
:class:`~authgate.client.errors.SessionExpired`,
:class:`~authgate.client.errors.Unreachable`,
:class:`~authgate.client.errors.Unauthorized` (401 after the retry),
:class:`~authgate.client.errors.Forbidden` (403) and
:class:`~authgate.client.errors.APIError` for any other status >= 400.

The renewal itself (discovery + token endpoint + file lock) is blocking by
nature (file locks are), so :class:`AsyncClient` runs it in a worker thread
and keeps the event loop free.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, Self

import httpx

from authgate.client.discovery import (
    Discovery,
    fetch_discovery,
    fetch_discovery_async,
)
from authgate.client.errors import (
    APIError,
    ClientError,
    Forbidden,
    Unauthorized,
)
from authgate.client.exchange import exchange_args
from authgate.client.sdk_credentials import Credentials
from authgate.client.sources import (
    Source,
)
from authgate.client.token_check import mismatches
from authgate.client.transport import (
    DEFAULT_TIMEOUT,
    async_client,
    sync_client,
    unreachable,
)

#: 401 reasons that are a mismatch between the platform and the IdP: a new login
#: gets a token with the same defect, so the hint must not say "log in again".
MISMATCH_REASONS = frozenset(
    {"bad_audience", "bad_issuer", "malformed_token", "alg_not_allowed", "bad_token_type"}
)


def _reason(response: httpx.Response) -> str | None:
    try:
        body = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return None
    reason = body.get("reason") if isinstance(body, dict) else None
    return reason if isinstance(reason, str) else None


def _mismatch(response: httpx.Response, token: str, discovery: Discovery | None) -> None:
    """Raise Unauthorized naming the mismatch, when the 401 is one."""
    reason = _reason(response)
    if response.status_code != 401 or reason not in MISMATCH_REASONS:
        return
    found = mismatches(token, discovery) if discovery is not None else []
    detail = "; ".join(found) or f"the platform refused the token as {reason}"
    where = f"{response.request.method} {response.request.url.path}"
    raise Unauthorized(
        f"{where}: {detail}",
        status_code=401,
        reason=reason,
        response=response,
        hint="this is a configuration mismatch between the platform and its "
        "identity provider; logging in again will not fix it",
    )


#: The statuses with an error type of their own: (type, what happened, hint).
_STATUS_ERRORS: dict[int, tuple[type[APIError], str, str | None]] = {
    401: (Unauthorized, "the platform rejected the token", "log in again: authgate login"),
    403: (Forbidden, "permission denied", None),
}


def _raise_for_status(response: httpx.Response) -> None:
    """Any status >= 400 as our own error type (one message shape for all of them)."""
    status = response.status_code
    if status < 400:
        return
    reason = _reason(response)
    where = f"{response.request.method} {response.request.url.path}"
    detail = f" ({reason})" if reason else ""
    error, what, hint = _STATUS_ERRORS.get(status, (APIError, f"HTTP {status}", None))
    raise error(
        f"{where}: {what}{detail}", status_code=status, reason=reason, response=response, hint=hint
    )


def _with_auth(headers: Mapping[str, str] | None, token: str) -> dict[str, str]:
    merged = dict(headers or {})
    merged["Authorization"] = f"Bearer {token}"
    return merged


class _ClientBase:
    """What :class:`Client` and :class:`AsyncClient` share: the arguments, where the
    token and base URL come from, and the timeout; each subclass opens its own kind of
    httpx client in :meth:`_open`, so only the I/O is written twice."""

    def __init__(
        self,
        base_url: str | None = None,
        *,
        token: str | None = None,
        access_token: str | None = None,
        context: str | None = None,
        config_file: str | os.PathLike[str] | None = None,
        ca_file: str | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        exchange_from: str | os.PathLike[str] | None = None,
        exchange_audience: str | None = None,
        exchange_scope: str | Sequence[str] | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        subject_token_type: str | None = None,
    ) -> None:
        exchange = exchange_args(
            exchange_from,
            exchange_audience,
            exchange_scope,
            client_id,
            client_secret,
            subject_token_type,
        )
        self._credentials = Credentials(
            base_url,
            token if token is not None else access_token,
            context,
            config_file,
            ca_file,
            exchange,
        )
        self.base_url = self._credentials.base_url
        self._open(
            self._credentials.ca_file,
            timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout),
        )

    def _open(self, ca_file: str | None, timeout: httpx.Timeout) -> None:
        raise NotImplementedError

    @property
    def credential_source(self) -> Source:
        """Which source the token comes from (never the token itself)."""
        return self._credentials.source


class Client(_ClientBase):
    """A synchronous platform client (httpx underneath)."""

    _http: httpx.Client

    def _open(self, ca_file: str | None, timeout: httpx.Timeout) -> None:
        self._http = sync_client(ca_file, timeout)

    def token(self) -> str:
        """A valid access token (renewed when under 60 s are left)."""
        return self._credentials.token()

    def discovery(self) -> Discovery:
        """The platform's discovery document (unauthenticated)."""
        found: Discovery = fetch_discovery(self._http, self.base_url)
        return found

    def _discovery_or_none(self) -> Discovery | None:
        try:
            return self.discovery()
        except ClientError:
            return None

    def request(
        self, method: str, path: str, *, headers: Mapping[str, str] | None = None, **kwargs: Any
    ) -> httpx.Response:
        """Send a request; renew and retry once on 401; raise APIError on >= 400."""
        url = self._credentials.url(path)
        token = self.token()
        response = self._send(method, url, _with_auth(headers, token), kwargs)
        if response.status_code == 401:
            renewed = self._credentials.renew_after_401(token)
            if renewed is not None:
                token = renewed
                response = self._send(method, url, _with_auth(headers, renewed), kwargs)
            if _reason(response) in MISMATCH_REASONS:
                _mismatch(response, token, self._discovery_or_none())
        _raise_for_status(response)
        return response

    def _send(
        self, method: str, url: str, headers: dict[str, str], kwargs: dict[str, Any]
    ) -> httpx.Response:
        try:
            response: httpx.Response = self._http.request(method, url, headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            raise unreachable("the platform", url, exc) from None
        return response

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", path, **kwargs)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncClient(_ClientBase):
    """An asyncio platform client (httpx underneath); same behaviour as :class:`Client`."""

    _http: httpx.AsyncClient

    def _open(self, ca_file: str | None, timeout: httpx.Timeout) -> None:
        self._http = async_client(ca_file, timeout)

    async def token(self) -> str:
        """A valid access token (renewed in a worker thread when under 60 s are left)."""
        if not self._credentials.renews_in_thread:
            return self._credentials.token()
        return await asyncio.to_thread(self._credentials.token)

    async def discovery(self) -> Discovery:
        """The platform's discovery document (unauthenticated)."""
        found: Discovery = await fetch_discovery_async(self._http, self.base_url)
        return found

    async def request(
        self, method: str, path: str, *, headers: Mapping[str, str] | None = None, **kwargs: Any
    ) -> httpx.Response:
        """Send a request; renew and retry once on 401; raise APIError on >= 400."""
        url = self._credentials.url(path)
        token = await self.token()
        response = await self._send(method, url, _with_auth(headers, token), kwargs)
        if response.status_code == 401:
            renewed = await asyncio.to_thread(self._credentials.renew_after_401, token)
            if renewed is not None:
                token = renewed
                response = await self._send(method, url, _with_auth(headers, renewed), kwargs)
            if _reason(response) in MISMATCH_REASONS:
                try:
                    discovery: Discovery | None = await self.discovery()
                except ClientError:
                    discovery = None
                _mismatch(response, token, discovery)
        _raise_for_status(response)
        return response

    async def _send(
        self, method: str, url: str, headers: dict[str, str], kwargs: dict[str, Any]
    ) -> httpx.Response:
        try:
            response: httpx.Response = await self._http.request(
                method, url, headers=headers, **kwargs
            )
        except httpx.HTTPError as exc:
            raise unreachable("the platform", url, exc) from None
        return response

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("POST", path, **kwargs)

    async def put(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("PUT", path, **kwargs)

    async def patch(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("PATCH", path, **kwargs)

    async def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("DELETE", path, **kwargs)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

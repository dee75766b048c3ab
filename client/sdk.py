"""``Client`` and ``AsyncClient``: call the platform without handling tokens.

After ``authgate login``, ``Client()`` needs no arguments: the base URL, CA
file and tokens come from the CLI's config file (current context). Explicit
``base_url=``, ``access_token=`` and ``context=`` override it.

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
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Self

import httpx
from authgate.client.discovery import (
    Discovery,
    fetch_discovery,
    fetch_discovery_async,
    normalize_base_url,
)
from authgate.client.errors import (
    APIError,
    Forbidden,
    NotLoggedIn,
    Unauthorized,
)
from authgate.client.refresh import SDK_REFRESH_MARGIN, Session
from authgate.client.store import ConfigStore
from authgate.client.transport import (
    DEFAULT_TIMEOUT,
    async_client,
    env_ca_file,
    sync_client,
    unreachable,
)


class _Credentials:
    """Where a client's base URL and bearer token come from."""

    def __init__(self, base_url: str | None, access_token: str | None, context: str | None,
                 config_file: str | os.PathLike[str] | None, ca_file: str | None) -> None:
        self.static_token = access_token
        self.session: Session | None = None
        cluster_url: str | None = None
        cluster_ca: str | None = None
        if access_token is None or base_url is None:
            self.session = Session.shared(ConfigStore(config_file), context)
            login = self.session.login()
            cluster_url, cluster_ca = login.cluster.base_url, login.cluster.ca_file
            if access_token is not None:
                self.session = None  # only the base URL came from the config
        chosen = base_url or cluster_url
        if not chosen:
            raise NotLoggedIn("no base URL", hint="pass base_url= or run: authgate login")
        self.base_url = normalize_base_url(chosen)
        self.ca_file = ca_file or env_ca_file() or cluster_ca

    def token(self) -> str:
        if self.static_token is not None:
            return self.static_token
        assert self.session is not None
        token: str = self.session.token(SDK_REFRESH_MARGIN).tokens.access_token
        return token

    def renew_after_401(self, rejected_token: str) -> str | None:
        """A replacement for a token the platform rejected, or None when static."""
        if self.session is None:
            return None
        token: str = self.session.refresh(stale=rejected_token).tokens.access_token
        return token


def _raise_for_status(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    reason: str | None = None
    try:
        body = json.loads(response.content)
        if isinstance(body, dict) and isinstance(body.get("reason"), str):
            reason = body["reason"]
    except (ValueError, UnicodeDecodeError):
        pass
    where = f"{response.request.method} {response.request.url.path}"
    detail = f" ({reason})" if reason else ""
    status = response.status_code
    if status == 401:
        raise Unauthorized(f"{where}: the platform rejected the token{detail}",
                           status_code=status, reason=reason, response=response,
                           hint="log in again: authgate login")
    if status == 403:
        raise Forbidden(f"{where}: permission denied{detail}", status_code=status,
                        reason=reason, response=response)
    raise APIError(f"{where}: HTTP {status}{detail}", status_code=status, reason=reason,
                   response=response)


def _with_auth(headers: Mapping[str, str] | None, token: str) -> dict[str, str]:
    merged = dict(headers or {})
    merged["Authorization"] = f"Bearer {token}"
    return merged


class Client:
    """A synchronous platform client (httpx underneath)."""

    def __init__(self, base_url: str | None = None, *, access_token: str | None = None,
                 context: str | None = None, config_file: str | os.PathLike[str] | None = None,
                 ca_file: str | None = None, timeout: httpx.Timeout | float = DEFAULT_TIMEOUT
                 ) -> None:
        self._credentials = _Credentials(base_url, access_token, context, config_file, ca_file)
        self.base_url = self._credentials.base_url
        self._http = sync_client(self._credentials.ca_file,
                                 timeout if isinstance(timeout, httpx.Timeout)
                                 else httpx.Timeout(timeout))

    def token(self) -> str:
        """A valid access token (renewed when under 60 s are left)."""
        return self._credentials.token()

    def discovery(self) -> Discovery:
        """The platform's discovery document (unauthenticated)."""
        found: Discovery = fetch_discovery(self._http, self.base_url)
        return found

    def request(self, method: str, path: str, *, headers: Mapping[str, str] | None = None,
                **kwargs: Any) -> httpx.Response:
        """Send a request; renew and retry once on 401; raise APIError on >= 400."""
        url = self.base_url + path if path.startswith("/") else path
        token = self.token()
        response = self._send(method, url, _with_auth(headers, token), kwargs)
        if response.status_code == 401:
            renewed = self._credentials.renew_after_401(token)
            if renewed is not None:
                response = self._send(method, url, _with_auth(headers, renewed), kwargs)
        _raise_for_status(response)
        return response

    def _send(self, method: str, url: str, headers: dict[str, str],
              kwargs: dict[str, Any]) -> httpx.Response:
        try:
            response: httpx.Response = self._http.request(method, url, headers=headers,
                                                          **kwargs)
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

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


class AsyncClient:
    """An asyncio platform client (httpx underneath); same behaviour as :class:`Client`."""

    def __init__(self, base_url: str | None = None, *, access_token: str | None = None,
                 context: str | None = None, config_file: str | os.PathLike[str] | None = None,
                 ca_file: str | None = None, timeout: httpx.Timeout | float = DEFAULT_TIMEOUT
                 ) -> None:
        self._credentials = _Credentials(base_url, access_token, context, config_file, ca_file)
        self.base_url = self._credentials.base_url
        self._http = async_client(self._credentials.ca_file,
                                  timeout if isinstance(timeout, httpx.Timeout)
                                  else httpx.Timeout(timeout))

    async def token(self) -> str:
        """A valid access token (renewed in a worker thread when under 60 s are left)."""
        if self._credentials.static_token is not None:
            return self._credentials.static_token
        return await asyncio.to_thread(self._credentials.token)

    async def discovery(self) -> Discovery:
        """The platform's discovery document (unauthenticated)."""
        found: Discovery = await fetch_discovery_async(self._http, self.base_url)
        return found

    async def request(self, method: str, path: str, *,
                      headers: Mapping[str, str] | None = None,
                      **kwargs: Any) -> httpx.Response:
        """Send a request; renew and retry once on 401; raise APIError on >= 400."""
        url = self.base_url + path if path.startswith("/") else path
        token = await self.token()
        response = await self._send(method, url, _with_auth(headers, token), kwargs)
        if response.status_code == 401:
            renewed = await asyncio.to_thread(self._credentials.renew_after_401, token)
            if renewed is not None:
                response = await self._send(method, url, _with_auth(headers, renewed), kwargs)
        _raise_for_status(response)
        return response

    async def _send(self, method: str, url: str, headers: dict[str, str],
                    kwargs: dict[str, Any]) -> httpx.Response:
        try:
            response: httpx.Response = await self._http.request(method, url, headers=headers,
                                                                **kwargs)
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

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.aclose()

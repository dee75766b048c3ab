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
    UsageError,
)
from authgate.client.refresh import SDK_REFRESH_MARGIN, Session
from authgate.client.store import ConfigStore
from authgate.client.transport import (
    DEFAULT_TIMEOUT,
    async_client,
    env_ca_file,
    origin,
    sync_client,
    unreachable,
)


class _Credentials:
    """Where a client's base URL and bearer token come from."""

    def __init__(self, base_url: str | None, access_token: str | None, context: str | None,
                 config_file: str | os.PathLike[str] | None, ca_file: str | None) -> None:
        self.static_token = access_token
        self.session: Session | None = None
        wanted: str | None = normalize_base_url(base_url) if base_url else None
        cluster_ca: str | None = None
        if access_token is None or wanted is None:
            store = ConfigStore(config_file)
            if wanted is not None and context is None:
                context = _context_for(store, wanted)
            session = Session.shared(store, context)
            login = session.login()
            if wanted is not None and login.cluster.base_url != wanted:
                # Never send one platform's token to another.
                raise UsageError(
                    f"context {login.context!r} belongs to {login.cluster.base_url}, "
                    f"not {wanted}", hint="pass the matching context= or access_token=")
            wanted, cluster_ca = login.cluster.base_url, login.cluster.ca_file
            if access_token is None:
                self.session = session
        assert wanted is not None
        self.base_url: str = wanted
        self.ca_file = ca_file or env_ca_file() or cluster_ca

    def url(self, path: str) -> str:
        """``base_url + path``; an absolute URL only when it is on the platform itself."""
        if path.startswith("/"):
            return self.base_url + path
        if origin(path) != origin(self.base_url) or not path.startswith(self.base_url):
            raise UsageError(f"refusing to send the platform's token to {origin(path)}",
                             hint="pass a path such as '/apis/...'")
        return path

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


def _context_for(store: ConfigStore, base_url: str) -> str:
    """The context logged in to ``base_url`` (the current one first)."""
    config = store.load()
    names = sorted(config.contexts, key=lambda name: name != config.current_context)
    for name in names:
        entry = config.contexts[name]
        cluster = config.clusters.get(entry.cluster)
        if cluster is not None and cluster.base_url == base_url and entry.user in config.users:
            found: str = name
            return found
    raise NotLoggedIn(f"not logged in to {base_url}",
                      hint=f"run: authgate login --base-url {base_url}, or pass access_token=")


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
        url = self._credentials.url(path)
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
        url = self._credentials.url(path)
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

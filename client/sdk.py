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
    normalize_base_url,
)
from authgate.client.errors import (
    APIError,
    ClientError,
    Forbidden,
    NotLoggedIn,
    Unauthorized,
    UsageError,
)
from authgate.client.exchange import ExchangeArgs, Exchanger, exchange_args, exchange_source
from authgate.client.refresh import SDK_REFRESH_MARGIN, Session
from authgate.client.sources import (
    BASE_URL_ENV,
    Source,
    TokenFile,
    check_token,
    env_base_url,
    env_source,
)
from authgate.client.store import ConfigStore
from authgate.client.token_check import mismatches
from authgate.client.transport import (
    DEFAULT_TIMEOUT,
    async_client,
    env_ca_file,
    origin,
    sync_client,
    unreachable,
)


class _Credentials:
    """Where a client's base URL and bearer token come from (see
    :mod:`authgate.client.sources` for the order)."""

    def __init__(self, base_url: str | None, access_token: str | None, context: str | None,
                 config_file: str | os.PathLike[str] | None, ca_file: str | None,
                 exchange: ExchangeArgs | None = None) -> None:
        self.static_token: str | None = None
        self.token_file: TokenFile | None = None
        self.session: Session | None = None
        self.exchanger: Exchanger | None = None
        wanted: str | None = normalize_base_url(base_url) if base_url else None
        cluster_ca: str | None = None
        found: tuple[Source, str | TokenFile] | None = None
        if access_token is not None and exchange is not None:
            raise UsageError("pass token= or exchange_from=, not both")
        if access_token is not None:
            found = Source("argument"), check_token(access_token, "the token argument")
        subject = exchange_source(exchange[0]) if exchange is not None else None
        if subject is not None:
            # A stand-in until the exchanger exists (it needs the base URL and CA first).
            found = Source("exchange", subject.path or "token argument"), ""
        found = found or env_source()
        if found is not None:
            self.source, value = found
            if isinstance(value, TokenFile):
                self.token_file = value
            elif subject is None:
                self.static_token = value
            if wanted is None and (env_url := env_base_url()):
                wanted = normalize_base_url(env_url)
        if found is None or wanted is None:
            store = ConfigStore(config_file)
            if wanted is not None and context is None:
                context = _context_for(store, wanted)
            session = Session.shared(store, context)
            try:
                login = session.login()
            except NotLoggedIn as exc:
                if found is not None:  # a token but no platform to send it to
                    raise UsageError("which platform? a token source is set but no base URL",
                                     hint=f"pass base_url= or set {BASE_URL_ENV}") from exc
                raise
            if wanted is not None and login.cluster.base_url != wanted:
                # Never send one platform's token to another.
                raise UsageError(
                    f"context {login.context!r} belongs to {login.cluster.base_url}, "
                    f"not {wanted}", hint="pass the matching context= or access_token=")
            wanted, cluster_ca = login.cluster.base_url, login.cluster.ca_file
            if found is None:
                self.session = session
                self.source = Source("login", login.context)
        assert wanted is not None
        self.base_url: str = wanted
        self.ca_file = ca_file or env_ca_file() or cluster_ca
        if subject is not None and exchange is not None:
            self.exchanger = Exchanger(subject, exchange[1], base_url=wanted,
                                       ca_file=self.ca_file)

    def url(self, path: str) -> str:
        """``base_url + path``; an absolute URL only when it is on the platform itself."""
        if path.startswith("/"):
            return self.base_url + path
        if origin(path) != origin(self.base_url) or not path.startswith(self.base_url):
            raise UsageError(f"refusing to send the platform's token to {origin(path)}",
                             hint="pass a path such as '/apis/...'")
        return path

    @property
    def renews_in_thread(self) -> bool:
        """A stored login and an exchange renew over the network (file sources are a stat)."""
        return self.session is not None or self.exchanger is not None

    def token(self) -> str:
        if self.static_token is not None:
            return self.static_token
        if self.exchanger is not None:
            return self.exchanger.token(SDK_REFRESH_MARGIN)
        if self.token_file is not None:
            return self.token_file.read()
        assert self.session is not None
        token: str = self.session.token(SDK_REFRESH_MARGIN).tokens.access_token
        return token

    def renew_after_401(self, rejected_token: str) -> str | None:
        """A replacement for a token the platform rejected, or None when there is none."""
        if self.exchanger is not None:
            return self.exchanger.renew_after_401(rejected_token)
        if self.token_file is not None:
            fresh = self.token_file.read(force=True)
            return fresh if fresh != rejected_token else None
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


#: 401 reasons that are a mismatch between the platform and the IdP: a new login
#: gets a token with the same defect, so the hint must not say "log in again".
MISMATCH_REASONS = frozenset({"bad_audience", "bad_issuer", "malformed_token",
                              "alg_not_allowed", "bad_token_type"})


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
    raise Unauthorized(f"{where}: {detail}", status_code=401, reason=reason, response=response,
                       hint="this is a configuration mismatch between the platform and its "
                            "identity provider; logging in again will not fix it")


def _raise_for_status(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    reason = _reason(response)
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

    def __init__(self, base_url: str | None = None, *, token: str | None = None,
                 access_token: str | None = None, context: str | None = None,
                 config_file: str | os.PathLike[str] | None = None, ca_file: str | None = None,
                 timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
                 exchange_from: str | os.PathLike[str] | None = None,
                 exchange_audience: str | None = None,
                 exchange_scope: str | Sequence[str] | None = None,
                 client_id: str | None = None, client_secret: str | None = None,
                 subject_token_type: str | None = None) -> None:
        exchange = exchange_args(exchange_from, exchange_audience, exchange_scope, client_id,
                                  client_secret, subject_token_type)
        self._credentials = _Credentials(base_url, token if token is not None else access_token,
                                         context, config_file, ca_file, exchange)
        self.base_url = self._credentials.base_url
        self._http = sync_client(self._credentials.ca_file,
                                 timeout if isinstance(timeout, httpx.Timeout)
                                 else httpx.Timeout(timeout))

    def token(self) -> str:
        """A valid access token (renewed when under 60 s are left)."""
        return self._credentials.token()

    @property
    def credential_source(self) -> Source:
        """Which source the token comes from (never the token itself)."""
        return self._credentials.source

    def discovery(self) -> Discovery:
        """The platform's discovery document (unauthenticated)."""
        found: Discovery = fetch_discovery(self._http, self.base_url)
        return found

    def _discovery_or_none(self) -> Discovery | None:
        try:
            return self.discovery()
        except ClientError:
            return None

    def request(self, method: str, path: str, *, headers: Mapping[str, str] | None = None,
                **kwargs: Any) -> httpx.Response:
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

    def __init__(self, base_url: str | None = None, *, token: str | None = None,
                 access_token: str | None = None, context: str | None = None,
                 config_file: str | os.PathLike[str] | None = None, ca_file: str | None = None,
                 timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
                 exchange_from: str | os.PathLike[str] | None = None,
                 exchange_audience: str | None = None,
                 exchange_scope: str | Sequence[str] | None = None,
                 client_id: str | None = None, client_secret: str | None = None,
                 subject_token_type: str | None = None) -> None:
        exchange = exchange_args(exchange_from, exchange_audience, exchange_scope, client_id,
                                  client_secret, subject_token_type)
        self._credentials = _Credentials(base_url, token if token is not None else access_token,
                                         context, config_file, ca_file, exchange)
        self.base_url = self._credentials.base_url
        self._http = async_client(self._credentials.ca_file,
                                  timeout if isinstance(timeout, httpx.Timeout)
                                  else httpx.Timeout(timeout))

    async def token(self) -> str:
        """A valid access token (renewed in a worker thread when under 60 s are left)."""
        if not self._credentials.renews_in_thread:
            return self._credentials.token()
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

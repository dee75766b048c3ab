"""Browser sign-in on the shared edge: endpoints, the session cookie as a
credential source, and the login redirect for a refused navigation.

The decisions are in :mod:`authgate.core.session`; this module only plugs
them into the router (:mod:`authgate.proxy.routes`), the Gate's credential
sources (:mod:`authgate.core.credentials`) and the one place where both
engines render a Gate refusal (:func:`refusal_answer`), so the two engines
cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from authgate.core.config import ProxyConfig
from authgate.core.errors import AuthError, ConfigError
from authgate.core.gate import Gate
from authgate.core.session import (
    BROWSER_PATHS,
    BrowserSessions,
    build_browser,
    handle_browser_endpoint,
)
from authgate.core.session.endpoints import LOGOUT_PATH
from authgate.core.session.source import SessionCookieSource
from authgate.core.verify import TokenVerifier

from .edge import EdgeRequest, EdgeResponse, error_answer
from .fetcher import IdPFetcher
from .routes import Endpoint

if TYPE_CHECKING:  # pragma: no cover
    from .runtime import Runtime

__all__ = ["browser_endpoints", "browser_of", "refusal_answer", "session_cookie_source"]

#: A logout form may carry a small body (ignored); anything larger is a 413.
LOGOUT_BODY_BYTES = 4096


async def _serve(request: EdgeRequest, runtime: Runtime) -> EdgeResponse:
    browser = runtime.browser
    if browser is None:  # pragma: no cover - the endpoints exist only when it is on
        raise AuthError("browser sign-in is off", reason="browser_disabled")
    answer = await handle_browser_endpoint(
        browser, request.method, request.path, request.raw_target, request.headers
    )
    return EdgeResponse(answer.status, tuple(answer.headers), answer.body)


def session_cookie_source(
    config: ProxyConfig, verifier: TokenVerifier
) -> SessionCookieSource | None:
    """The registered credential source (:data:`~authgate.proxy.extensions.CREDENTIAL_SOURCES`):
    the session cookie, when ``browser.enabled``.  It builds this snapshot's
    :class:`BrowserSessions` over the Gate's own key caches and verifier; the
    token endpoint is reached with the primary issuer's fetch policy (``keys``)."""
    if not config.browser.enabled:
        return None
    keys = verifier.key_caches
    primary = keys.get(config.oidc.issuer)
    if primary is None:
        raise ConfigError(["browser.enabled: no key cache for oidc.issuer"])
    poster = IdPFetcher.create(config.keys)
    try:
        browser = build_browser(
            config, keys, lambda: primary.metadata, poster.post, access_verifier=verifier
        )
    except ValueError as exc:  # unreadable key directory or client secret
        raise ConfigError([f"browser: {exc}"]) from None
    return None if browser is None else SessionCookieSource(browser, verifier)


def browser_of(gate: Gate) -> BrowserSessions | None:
    """The browser sign-in of the snapshot whose Gate is ``gate`` (the one its
    session-cookie source holds), for the endpoints and the login redirect."""
    for source in gate.sources:
        if isinstance(source, SessionCookieSource):
            return source.browser
    return None


def browser_endpoints(config: ProxyConfig) -> Iterable[Endpoint]:
    """``/apis/auth/{login,callback,session,logout}`` when ``browser.enabled``."""
    if not config.browser.enabled:
        return
    for path in sorted(BROWSER_PATHS):
        if path == LOGOUT_PATH:
            yield Endpoint(
                path, frozenset({"GET", "HEAD", "POST"}), _serve, max_body_bytes=LOGOUT_BODY_BYTES
            )
        else:
            yield Endpoint(path, frozenset({"GET", "HEAD"}), _serve)


def refusal_answer(
    runtime: Runtime,
    error: AuthError,
    method: str,
    raw_target: str,
    headers: Sequence[tuple[str, str]],
    *,
    close: bool = False,
) -> EdgeResponse:
    """What both engines send when ``Gate.decide`` refused: a login redirect
    for a browser navigation (browser sign-in on), else the typed error
    answer, clearing a session cookie that could not be used.  ``close``: the
    connection ends after this answer (a request line the Gate refused)."""
    browser = runtime.browser
    if browser is None:
        return error_answer(error, close=close)
    path = raw_target.split("?", 1)[0]
    redirect = browser.denied(method, raw_target, path, headers, error, None)
    if redirect is not None:
        return EdgeResponse(redirect.status, tuple(redirect.headers), redirect.body, close=close)
    return error_answer(error, close=close).with_headers(browser.clear_unusable(error, headers))

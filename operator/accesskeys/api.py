"""``/apis/auth/v2/access-keys``: the HTTP API, and the issuer endpoints sidecars read.

The caller authenticates with its own bearer token, verified by the core's
:class:`~authgate.core.verify.TokenVerifier` built from the provider's rendered
config, exactly as its sidecars would.  Failures are RFC 6750 answers (401 with
``WWW-Authenticate``); every other refusal is a JSON ``{"error",
"description"}`` with a 4xx status.  A Kubernetes API failure is a 503, never a
500, and nothing ever echoes a token.

Who sees what: a key is visible to the person who created it and to members of
the provider's ``accessKeys.adminGroups``; to anybody else it does not exist
(404, the same answer as an unknown jti, so jtis cannot be probed).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from kubernetes.client.exceptions import ApiException

from authgate.core.errors import AuthError, InvalidToken, MissingToken
from authgate.core.gate import bearer_token
from authgate.core.principal import Principal

from .actions import Actions
from .model import JTI_PATTERN, AccessKeyRecord
from .requests import MAX_BODY_BYTES, ApiError, parse_json_body, parse_paging
from .service import AccessKeyService, Provider
from .settings import API_PATH, ISSUER_PATH
from .store import Conflict

__all__ = ["AccessKeyApi"]

log = logging.getLogger("authgate.operator.accesskeys.api")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_NO_STORE = {"Cache-Control": "no-store"}


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(body, status=status, headers={**_NO_STORE, **(headers or {})})


def _answer(handler: Handler) -> Handler:
    """Our typed errors become their JSON answers; the Kubernetes API failing, a 503."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except ApiError as exc:
            return _json(exc.status, exc.body())
        except AuthError as exc:
            challenge = exc.www_authenticate("authgate")
            return _json(
                exc.status, exc.body(), {"WWW-Authenticate": challenge} if challenge else None
            )
        except Conflict:
            return _json(
                409, {"error": "conflict", "description": "the key changed concurrently; retry"}
            )
        except ApiException as exc:
            log.warning("Kubernetes API failed: HTTP %s %s", exc.status, exc.reason)
            return _json(
                503,
                {
                    "error": "unavailable",
                    "description": "the key store (Kubernetes API) failed; retry",
                },
            )
        except (OSError, TimeoutError) as exc:
            log.warning("access-key request failed: %s", type(exc).__name__)
            return _json(503, {"error": "unavailable", "description": "a backend is unreachable"})
        except web.HTTPException:
            raise
        except Exception:  # a bug: still JSON, still no token in the answer
            log.exception("access-key request failed unexpectedly")
            return _json(500, {"error": "internal_error", "description": "unexpected error"})

    return wrapped


class AccessKeyApi:
    def __init__(self, service: AccessKeyService) -> None:
        self.service = service
        self.actions = Actions(service)

    def register(self, app: web.Application) -> None:
        app.router.add_route("*", API_PATH, _answer(self.collection))
        app.router.add_route("*", API_PATH + "/{jti}", _answer(self.item))
        app.router.add_route("*", API_PATH + "/{jti}/{action}", _answer(self.action))
        base = ISSUER_PATH + "/{namespace}/{provider}"
        app.router.add_get(base + "/.well-known/openid-configuration", _answer(self.metadata))
        app.router.add_get(base + "/jwks", _answer(self.jwks))
        app.router.add_get(base + "/revocations", _answer(self.revocation_list))

    # -- plumbing -----------------------------------------------------------------------------

    def _provider(self, request: web.Request) -> Provider:
        wanted = request.query.get("provider")
        provider = (
            self.service.providers.get(wanted) if wanted else (self.service.default_provider())
        )
        if provider is None and not wanted and len(self.service.providers) > 1:
            raise ApiError(
                409,
                "ambiguous_default",
                "several OIDCProviders and no single default; name one with "
                "?provider=<namespace>/<name>",
            )
        if provider is None or not provider.policy.enabled:
            raise ApiError(404, "not_found", "access keys are not enabled for this provider")
        return provider

    async def _caller(self, request: web.Request, provider: Provider) -> Principal:
        values = request.headers.getall("Authorization", [])
        if len(values) > 1:
            raise ApiError(400, "invalid_request", "more than one Authorization header")
        if not values:
            raise MissingToken()
        token = bearer_token(values[0])
        verifier = await self.service.caller_verifier(provider)
        if verifier is None:
            raise ApiError(
                503,
                "provider_invalid",
                f"OIDCProvider {provider.key} does not render; see its status",
            )
        try:
            return await verifier.verifier.verify(token)
        except InvalidToken as exc:
            if exc.reason == "bad_issuer" and self._is_access_key(token):
                raise ApiError(
                    403,
                    "access_key_not_allowed",
                    "access keys cannot manage access keys; use your own login",
                ) from None
            raise

    def _is_access_key(self, token: str) -> bool:
        from authgate.core.verify import decode_segment, parse_json_object

        try:
            claims = parse_json_object(decode_segment(token.split(".")[1], "payload"), "payload")
        except (InvalidToken, IndexError):
            return False
        iss = claims.get("iss")
        return isinstance(iss, str) and iss.startswith(self.service.public_url + ISSUER_PATH)

    @staticmethod
    async def _body(request: web.Request) -> dict[str, Any]:
        if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
            raise ApiError(413, "body_too_large", f"the body exceeds {MAX_BODY_BYTES} bytes")
        raw = await request.content.read(MAX_BODY_BYTES + 1)
        if len(raw) > MAX_BODY_BYTES:
            raise ApiError(413, "body_too_large", f"the body exceeds {MAX_BODY_BYTES} bytes")
        return parse_json_body(raw)

    def _record(self, provider: Provider, caller: Principal, jti: str) -> AccessKeyRecord:
        record = self.service.index.get(jti) if JTI_PATTERN.fullmatch(jti) else None
        if (
            record is None
            or record.namespace != provider.namespace
            or record.provider != provider.name
            or not (record.created_by == caller.subject or provider.policy.is_admin(caller.groups))
        ):
            raise ApiError(404, "not_found", "no such access key (jti ak_<32 hex>)")
        return record

    @staticmethod
    def _method(request: web.Request, *allowed: str) -> None:
        if request.method not in allowed:
            raise ApiError(
                405,
                "method_not_allowed",
                f"{request.method} is not allowed here; use {', '.join(allowed)}",
            )

    # -- /apis/auth/v2/access-keys -------------------------------------------------------------

    async def collection(self, request: web.Request) -> web.Response:
        self._method(request, "GET", "POST")
        provider = self._provider(request)
        caller = await self._caller(request, provider)
        if request.method == "POST":
            body = await self._body(request)
            return _json(201, await self.actions.create(provider, caller, body))
        page, size = parse_paging(request.query)
        now = time.time()
        admin = provider.policy.is_admin(caller.groups)
        visible = [
            r
            for r in self.service.index.of_provider(provider.namespace, provider.name)
            if admin or r.created_by == caller.subject
        ]
        wanted = request.query.get("status")
        if wanted:
            visible = [r for r in visible if r.phase(now).lower() == wanted.lower()]
        chunk = visible[(page - 1) * size : page * size]
        return _json(
            200,
            {
                "items": [r.view(now) for r in chunk],
                "page": page,
                "page_size": size,
                "total": len(visible),
            },
        )

    async def item(self, request: web.Request) -> web.Response:
        self._method(request, "GET", "DELETE")
        provider = self._provider(request)
        caller = await self._caller(request, provider)
        record = self._record(provider, caller, request.match_info["jti"])
        if request.method == "GET":
            return _json(200, record.view(time.time()))
        return _json(200, await self.actions.set_state(record, "Revoked"))

    async def action(self, request: web.Request) -> web.Response:
        self._method(request, "POST")
        action = request.match_info["action"]
        if action not in ("rotate", "suspend", "unsuspend", "revoke"):
            raise ApiError(404, "not_found", "unknown action; use rotate, suspend or unsuspend")
        provider = self._provider(request)
        caller = await self._caller(request, provider)
        record = self._record(provider, caller, request.match_info["jti"])
        body = await self._body(request)
        if action == "rotate":
            return _json(201, await self.actions.rotate(provider, caller, record, body))
        if body:
            raise ApiError(400, "invalid_request", f"{action} takes no body")
        state = {"suspend": "Suspended", "unsuspend": "Active", "revoke": "Revoked"}[action]
        return _json(200, await self.actions.set_state(record, state))

    # -- the issuer (unauthenticated: public keys and jtis only) -------------------------------

    def _issuer_provider(self, request: web.Request) -> Provider:
        key = f"{request.match_info['namespace']}/{request.match_info['provider']}"
        provider = self.service.enabled(key)
        if provider is None:
            raise ApiError(404, "not_found", "no access-key issuer here")
        return provider

    async def metadata(self, request: web.Request) -> web.Response:
        provider = self._issuer_provider(request)
        issuer = self.service.issuer(provider.namespace, provider.name)
        return web.json_response(
            {
                "issuer": issuer,
                "jwks_uri": f"{issuer}/jwks",
                "revocation_list_uri": f"{issuer}/revocations",
                "id_token_signing_alg_values_supported": ["ES256"],
            },
            headers={"Cache-Control": "max-age=60"},
        )

    async def jwks(self, request: web.Request) -> web.Response:
        provider = self._issuer_provider(request)
        keys = await self.service.signing_keys(provider)
        return web.json_response(keys.jwks(), headers={"Cache-Control": "max-age=60"})

    async def revocation_list(self, request: web.Request) -> web.Response:
        provider = self._issuer_provider(request)
        if not self.service.index.loaded:
            raise ApiError(503, "not_ready", "the access-key index is not loaded yet")
        body, etag = self.service.revocations(provider, time.time())
        headers = {"ETag": etag, "Cache-Control": "no-cache"}
        self.service.revocation_requests += 1
        if etag in [t.strip() for t in request.headers.get("If-None-Match", "").split(",")]:
            self.service.revocation_not_modified += 1
            return web.Response(status=304, headers=headers)
        return web.Response(body=body, content_type="application/json", headers=headers)

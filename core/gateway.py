"""Gateway mode: which request is a gateway asking about?

In gateway mode authgate does not see the client's request; an ingress asks
it, in a *check request*, whether the original request may pass.  Each
gateway describes the original request differently:

* **nginx** ``auth_request`` (and ingress-nginx ``auth-url``): the subrequest
  carries ``X-Original-Method`` and ``X-Original-URI`` (set by the
  configuration with ``proxy_set_header``) or ``X-Original-URL`` (the absolute
  URL ingress-nginx sets).
* **forward-auth** (Traefik ``ForwardAuth``, Caddy ``forward_auth``):
  ``X-Forwarded-Method``, ``X-Forwarded-Uri``, ``X-Forwarded-Host`` and
  ``X-Forwarded-Proto``.
* **Envoy** ``ext_authz`` in HTTP-service mode: the check request keeps the
  original method and ``Host``; its path is ``path_prefix`` + the original path.

Those headers are exactly what an attacker forges: oauth2-proxy
GHSA-7x63-xv5r-3p2x skipped authentication for a client-sent
``X-Forwarded-Uri`` matching a skip rule (and the first fix was incomplete,
oauth2-proxy #3506); Traefik GHSA-6384-m2mw-rf54 trusted a client-sent
``X-Forwarded-Prefix``.  So :func:`read_original`

1. is called only for a peer in ``server.trusted_proxies`` (the caller checks;
   :class:`~authgate.core.errors.Forbidden` ``untrusted_gateway`` otherwise);
2. requires every header of the flavour exactly once — missing, repeated or
   comma-listed values are refused (400 ``invalid_gateway_request``), never
   guessed at;
3. accepts only an RFC 9110 token as the method, an origin-form target of
   printable ASCII as the URI, an RFC 3986 host and ``http``/``https`` as the
   proto; when nginx sends both ``X-Original-URI`` and ``X-Original-URL`` they
   must agree (a client-sent one cannot win against the configured one);
4. leaves the *path* to the data path's own checks: the target goes through
   :meth:`Gate.decide <authgate.core.gate.Gate.decide>`, which normalises it
   with :func:`~authgate.core.paths.normalize_path`, so public-path and rule
   matching cannot differ between sidecar and gateway mode.

``X-Forwarded-Prefix`` and every other header are ignored for the decision.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any
from urllib.parse import urlsplit

from .errors import InvalidRequest
from .headers import canonical_name
from .principal import Principal

__all__ = [
    "FLAVOUR_HEADERS",
    "Flavour",
    "OriginalRequest",
    "principal_document",
    "read_original",
]

MAX_ORIGINAL_URI = 8192
_METHOD = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,32}")  # RFC 9110 §5.6.2 token
_TARGET = re.compile(r"/[\x21-\x7e]*")  # origin-form, printable ASCII, no space
_HOST = re.compile(
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}"
    r"[A-Za-z0-9])?)*\.?|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?"
)
_PROTOS = frozenset({"http", "https"})


class Flavour(Enum):
    """How a gateway describes the original request."""

    NGINX = "nginx"
    FORWARD_AUTH = "forward_auth"
    ENVOY = "envoy"


#: The headers each flavour reads (canonical spelling), for docs and for tests.
FLAVOUR_HEADERS: dict[Flavour, tuple[str, ...]] = {
    Flavour.NGINX: ("x-original-method", "x-original-uri", "x-original-url"),
    Flavour.FORWARD_AUTH: (
        "x-forwarded-method",
        "x-forwarded-uri",
        "x-forwarded-host",
        "x-forwarded-proto",
    ),
    Flavour.ENVOY: ("host", "x-forwarded-proto"),
}
_READ = {name for names in FLAVOUR_HEADERS.values() for name in names}


@dataclass(frozen=True, slots=True)
class OriginalRequest:
    """The request a gateway asks about: ``target`` is its raw origin-form
    path and query (normalised later by the Gate), ``host``/``proto`` what
    the gateway reported (``None`` when the flavour does not say)."""

    method: str
    target: str
    host: str | None
    proto: str | None


def _refuse(description: str) -> InvalidRequest:
    return InvalidRequest(description, reason="invalid_gateway_request")


def _collect(headers: Sequence[tuple[str, str]]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for name, value in headers:
        key = canonical_name(name)
        if key in _READ:
            found.setdefault(key, []).append(value)
    return found


def _one(found: dict[str, list[str]], name: str, *, required: bool) -> str | None:
    values = found.get(name)
    if not values:
        if required:
            raise _refuse(f"the gateway did not send {name}")
        return None
    if len(values) > 1:
        raise _refuse(f"{name} was sent more than once")
    value = values[0].strip()
    if not value or "," in value:
        raise _refuse(f"{name} is empty or a list")
    return value


def _method(value: str | None) -> str:
    if value is None or not _METHOD.fullmatch(value):
        raise _refuse("the original method is not an HTTP method token")
    return value


def _target(value: str) -> str:
    if len(value) > MAX_ORIGINAL_URI or not _TARGET.fullmatch(value):
        raise _refuse("the original URI is not an origin-form request target")
    return value


def _host(value: str | None) -> str | None:
    if value is not None and (len(value) > 261 or not _HOST.fullmatch(value)):
        raise _refuse("the original host is malformed")
    return value


def _proto(value: str | None) -> str | None:
    if value is not None and value.lower() not in _PROTOS:
        raise _refuse("the original proto is neither http nor https")
    return value.lower() if value is not None else None


def _split_url(value: str) -> tuple[str, str, str]:
    """``(target, host, proto)`` of an absolute ``X-Original-URL``."""
    if len(value) > MAX_ORIGINAL_URI or not re.fullmatch(r"[\x21-\x7e]+", value):
        raise _refuse("the original URL is malformed")
    try:
        parts = urlsplit(value)
        port = parts.port  # raises on a non-numeric port
    except ValueError:
        raise _refuse("the original URL is malformed") from None
    if parts.scheme not in _PROTOS or "@" in parts.netloc or parts.fragment or "#" in value:
        raise _refuse("the original URL is not an http(s) URL without userinfo or fragment")
    del port
    head = f"{parts.scheme}://{parts.netloc}"
    rest = value[len(head) :]  # "" or "/..." or "?..." (urlsplit ends the netloc there)
    target = rest if rest.startswith("/") else "/" + rest
    host = _host(parts.netloc)
    assert host is not None
    return _target(target), host, parts.scheme


def _same_target(a: str, b: str) -> bool:
    return a.rstrip("?") == b.rstrip("?")


def read_original(
    flavour: Flavour,
    method: str,
    raw_target: str,
    headers: Sequence[tuple[str, str]],
    *,
    envoy_prefix: str = "",
) -> OriginalRequest:
    """The original request described by a (trusted) gateway's check request.

    ``method``/``raw_target`` are the check request's own; ``envoy_prefix`` is
    the ext_authz ``path_prefix`` the check request's path starts with.
    Raises :class:`~authgate.core.errors.InvalidRequest` when the description
    is missing, repeated or malformed (see the module docstring).
    """
    found = _collect(headers)
    if flavour is Flavour.ENVOY:
        if not raw_target.startswith(envoy_prefix + "/"):
            raise _refuse("the ext_authz check path does not carry the original path")
        return OriginalRequest(
            _method(method),
            _target(raw_target[len(envoy_prefix) :]),
            _host(_one(found, "host", required=False)),
            _proto(_one(found, "x-forwarded-proto", required=False)),
        )
    if flavour is Flavour.FORWARD_AUTH:
        return OriginalRequest(
            _method(_one(found, "x-forwarded-method", required=True)),
            _target(_one(found, "x-forwarded-uri", required=True) or ""),
            _host(_one(found, "x-forwarded-host", required=True)),
            _proto(_one(found, "x-forwarded-proto", required=True)),
        )
    original_method = _method(_one(found, "x-original-method", required=True))
    uri = _one(found, "x-original-uri", required=False)
    url = _one(found, "x-original-url", required=False)
    if url is None:
        if uri is None:
            raise _refuse("the gateway sent neither x-original-uri nor x-original-url")
        return OriginalRequest(original_method, _target(uri), None, None)
    target, host, proto = _split_url(url)
    if uri is not None and not _same_target(_target(uri), target):
        raise _refuse("x-original-uri and x-original-url disagree")
    return OriginalRequest(original_method, target, host, proto)


def principal_document(principal: Principal) -> dict[str, Any]:
    """The JSON body of an ``/apis/auth/authenticate`` answer ("who am I").

    The same facts as the identity headers, unencoded, plus where the token
    came from and until when it is valid; never the token itself.
    """
    return {
        "id": principal.subject,
        "email": principal.email,
        "groups": list(principal.groups),
        "scopes": list(principal.scopes),
        "issuer": principal.issuer,
        "audience": list(principal.audience),
        "expires_at": int(principal.expires_at) if principal.expires_at is not None else None,
        "quickstart": principal.quickstart,
    }

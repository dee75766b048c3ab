"""The identity-header plan: what is removed from the client's request and
what authgate adds, compiled once at startup.

The upstream trusts the identity headers, so the only safe order is
**filter, then inject**:

1. *Strip* every identity header the client sent, whatever its spelling.
   Header names are case-insensitive, and many frameworks (WSGI/CGI, some Go
   and Python servers) also treat ``_`` like ``-``: oauth2-proxy was bypassed
   with ``X_Auth_Request_Email`` (CVE-2025-64484).  Names are therefore
   compared after lower-casing and mapping ``_`` to ``-``.  The same applies
   to ``headers.strip``.  The header names of *every* preset (``X-NMP-*``
   and ``X-Auth-Request-*``) are stripped whichever preset is configured: an
   app may read either family (or move between them), and a client has no
   business sending any of them.
2. *Drop* hop-by-hop headers (RFC 9110 §7.6.1): ``Connection``,
   ``Proxy-Connection``, ``Keep-Alive``, ``TE``, ``Trailer``,
   ``Transfer-Encoding``, ``Upgrade``, plus ``Proxy-Authorization``/
   ``-Authenticate``, ``HTTP2-Settings`` and every name the client lists in ``Connection`` —
   except ``Host`` and ``Content-Length``, which a client must not be able to
   remove that way.  ``Authorization`` is dropped unless
   ``headers.forward_authorization``.
3. With ``headers.set_forwarded`` (the default) the HTTP layer sets
   ``X-Forwarded-For``/``-Proto``/``-Host`` (:mod:`.forwarding`), so every
   client field named ``X-Forwarded-<anything>`` (``-Uri`` and ``-Prefix``
   too: oauth2-proxy GHSA-7x63-xv5r-3p2x) and ``Forwarded`` is dropped here
   in every spelling: an upstream that folds ``_`` into ``-`` would
   otherwise read ``X_Forwarded_For: 6.6.6.6`` as the client address.  A
   trusted peer's chain is read from the raw request by
   :class:`~.forwarding.ForwardingPlan`, never from this filtered list.
   With ``set_forwarded`` off, they pass through unchanged.
4. *Remove authgate's own cookies* from ``Cookie`` (:func:`is_owned_cookie`:
   ``authgate-session*`` and ``authgate-login-*``, bare or with the
   ``__Host-``/``__Secure-`` prefix), whatever the config and however the
   request was authenticated (bearer, cookie, public path): the session cookie
   is host-wide, so a browser sends it to every service of a platform host,
   including one whose sidecar has browser sign-in off.  The app's own
   cookies pass unchanged; a ``Cookie`` left empty is dropped.
5. *Inject* the principal's headers **after** filtering, so ``Connection:
   x-nmp-principal-id`` can never remove a header authgate sets.  Values
   are printable ASCII: ``%`` and anything non-ASCII are percent-encoded as
   UTF-8 (:func:`identity_value`); groups are joined with ``,`` (a ``,``
   inside a group name is percent-encoded too), scopes with a space.  Verified principal
   attributes (the calling pod's name and uid, from a service-account token)
   go into their own slots.  Values never contain
   control characters: CR, LF, NUL and the rest of C0/DEL are removed, so a
   hostile claim cannot split or smuggle headers.
6. A header value with bytes outside ASCII must be valid UTF-8 (it then
   reaches the upstream byte-exact on both engines); anything else is
   refused with ``400 invalid_header_value`` (RFC 9110 §5.5 obs-text is
   opaque, and not every upstream would read the same bytes the same way).
   A field of :data:`SINGLETONS` sent twice (in any spelling) is refused with
   ``400 duplicate_header``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from .config import ATTRIBUTE_SLOTS, HEADER_PRESETS, IDENTITY_SLOTS, HeaderConfig
from .errors import InvalidRequest
from .principal import Principal

__all__ = [
    "FORWARDED",
    "HOP_BY_HOP",
    "OWNED_COOKIE_BASE",
    "PRESET_IDENTITY",
    "SINGLETONS",
    "HeaderPlan",
    "canonical_name",
    "check_value",
    "identity_value",
    "is_owned_cookie",
    "safe_value",
    "strip_owned_cookies",
    "websocket_requested",
]

HOP_BY_HOP: tuple[str, ...] = (
    "connection",
    "proxy-connection",
    "keep-alive",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "proxy-authorization",
    "proxy-authenticate",
    # only meaningful with ``Upgrade: h2c`` (RFC 9113 §3.1 retired it); never forwarded,
    # listed in ``Connection`` or not
    "http2-settings",
)
#: Client fields replaced by the HTTP layer when ``headers.set_forwarded`` (lower-case).
FORWARDED: tuple[str, ...] = (
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "forwarded",
)
#: Every preset's identity header names, always stripped (canonical spelling).
PRESET_IDENTITY: frozenset[str] = frozenset(
    name.lower() for preset in HEADER_PRESETS.values() for name in preset.values()
)
_FORWARDED_PREFIX = "x-forwarded-"
#: Fields a request may carry once (besides ``Host``, see ``check_host``): two
#: values would be read differently by different servers (aiohttp's parser
#: refuses the same set, so both engines answer the same 400).
SINGLETONS: frozenset[str] = frozenset(
    {
        "content-length",
        "content-location",
        "content-range",
        "content-type",
        "etag",
        "max-forwards",
        "server",
        "transfer-encoding",
        "user-agent",
    }
)
_NEVER_CONNECTION_DROPPED = frozenset({"host", "content-length"})
_CONTROL = {i: None for i in (*range(0x20), 0x7F)}
_INJECT_CACHE_SIZE = 4096


_CANONICAL: dict[str, str] = {}

#: The name every authgate cookie starts with (after an optional cookie prefix).
OWNED_COOKIE_BASE = "authgate"
_COOKIE_PREFIXES = ("", "__Host-", "__Secure-")  # RFC 6265bis §4.1.3


def is_owned_cookie(name: str, base: str = OWNED_COOKIE_BASE) -> bool:
    """True for a cookie authgate sets: the browser session (and its chunks)
    and the login-state cookies, bare or ``__Host-``/``__Secure-`` prefixed."""
    for prefix in _COOKIE_PREFIXES:
        if name.startswith(f"{prefix}{base}-session") or name.startswith(f"{prefix}{base}-login-"):
            return True
    return False


def strip_owned_cookies(values: Iterable[str], base: str = OWNED_COOKIE_BASE) -> str | None:
    """The ``Cookie`` value(s) without authgate's own cookies, joined with
    ``; `` (``None`` when nothing is left)."""
    kept: list[str] = []
    for value in values:
        for pair in value.split(";"):
            pair = pair.strip()
            if pair and not is_owned_cookie(pair.split("=", 1)[0].strip(), base):
                kept.append(pair)
    return "; ".join(kept) if kept else None


def _without_owned_cookies(items: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """``items`` with authgate's cookies removed from every ``Cookie`` field
    (a field left empty is dropped); other fields keep their order."""
    out: list[tuple[str, str]] = []
    for name, value in items:
        if len(name) == 6 and name.lower() == "cookie" and OWNED_COOKIE_BASE in value:
            kept = strip_owned_cookies((value,))
            if kept is not None:
                out.append((name, kept))
        else:
            out.append((name, value))
    return out


def canonical_name(name: str) -> str:
    """Lower-case with ``_`` and ``.`` mapped to ``-``: the spelling used for
    comparisons (memoised: the same few header spellings arrive on every
    request).  Servers and frameworks that fold ``_`` into ``-`` often fold
    ``.`` too (CGI-style environ keys), so ``X.NMP.Principal.Id`` is an
    identity header as much as ``X_NMP_Principal_Id`` is."""
    found = _CANONICAL.get(name)
    if found is None:
        found = name.lower().replace("_", "-").replace(".", "-")
        if len(_CANONICAL) < 4096:
            _CANONICAL[name] = found
    return found


def websocket_requested(method: str, headers: Iterable[tuple[str, str]]) -> bool:
    """Whether a request asks for the one upgrade authgate tunnels (RFC 6455 §4.1):
    ``GET``, ``Connection`` listing ``upgrade`` and ``Upgrade`` naming
    ``websocket``.  Every other upgrade (``h2c``, TLS, …) is dropped with the
    hop-by-hop fields and the request is answered as plain HTTP/1.1
    (RFC 9110 §7.8; RFC 9113 §3.1 retired h2c), so nothing can be spliced
    past the Gate."""
    if method != "GET":
        return False
    upgrade = connection = False
    for name, value in headers:
        lower = name.lower()
        if lower == "upgrade":
            upgrade = upgrade or any(
                token.strip().lower() == "websocket" for token in value.split(",")
            )
        elif lower == "connection":
            connection = connection or any(
                token.strip().lower() == "upgrade" for token in value.split(",")
            )
    return upgrade and connection


def safe_value(value: str) -> str:
    """``value`` without control characters (CR, LF, NUL, ...) and trimmed."""
    if value.isprintable():
        return value.strip()
    return value.translate(_CONTROL).strip()


def identity_value(value: str) -> str:
    """An identity header value as it goes upstream: printable ASCII, with
    ``%`` and every character outside it percent-encoded as UTF-8 (RFC 3986
    §2.1 style), so ``josé`` is ``jos%C3%A9`` on both engines and a name in
    any script reaches the app intact and unambiguous.  Control characters
    (CR, LF, NUL, …) are removed first, so a claim cannot split headers."""
    value = safe_value(value)
    if value.isascii() and "%" not in value:
        return value
    return "".join(
        ch if (" " <= ch <= "~" and ch != "%") else "".join(f"%{b:02X}" for b in ch.encode())
        for ch in value
    )


def check_value(value: str) -> None:
    """Refuse a header value (as the engines decode it: Latin-1, one
    character per byte) whose bytes are not valid UTF-8 (module docstring, 5)."""
    try:
        value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        raise InvalidRequest(
            "a header value is not valid UTF-8", reason="invalid_header_value"
        ) from None


def _group(name: str) -> str:
    value = identity_value(name)
    return value.replace(",", "%2C") if "," in value else value


@dataclass(frozen=True, slots=True)
class HeaderPlan:
    """Compiled header rules (see the module docstring); build with :meth:`compile`."""

    principal_id: str
    email: str
    groups: str
    scopes: str
    identity_names: tuple[str, ...]
    #: attribute name -> header name, for Principal.attributes (pod_name, pod_uid)
    attribute_names: tuple[tuple[str, str], ...]
    forward_authorization: bool
    set_forwarded: bool
    _drop: frozenset[str]
    _identity_keys: frozenset[str]
    _inject_cache: dict[int, tuple[Principal, list[tuple[str, str]]]] = field(
        default_factory=dict, compare=False, repr=False
    )

    @classmethod
    def compile(cls, config: HeaderConfig) -> HeaderPlan:
        names = {slot: config.name_for(slot) for slot in IDENTITY_SLOTS}
        identity = tuple(names.values())
        drop = {canonical_name(n) for n in (*identity, *config.strip)}
        drop.update(PRESET_IDENTITY)
        drop.update(HOP_BY_HOP)
        if config.set_forwarded:
            drop.update(FORWARDED)
        if not config.forward_authorization:
            drop.add("authorization")
        plan = cls(
            principal_id=names["principal_id"],
            email=names["email"],
            groups=names["groups"],
            scopes=names["scopes"],
            identity_names=identity,
            attribute_names=tuple((slot, names[slot]) for slot in ATTRIBUTE_SLOTS),
            forward_authorization=config.forward_authorization,
            set_forwarded=config.set_forwarded,
            _drop=frozenset(drop),
            _identity_keys=frozenset(canonical_name(n) for n in identity),
        )
        return plan

    def is_identity(self, name: str) -> bool:
        """True when ``name`` is (a spelling of) an identity header."""
        return canonical_name(name) in self._identity_keys

    def filter_request(self, headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        """The client's headers minus identity (every preset's), hop-by-hop,
        ``Connection``-listed, (unless forwarded) ``Authorization`` and (with
        ``set_forwarded``) forwarding headers, and authgate's own cookies; order and spelling kept.
        (:meth:`scan`'s first half: the ``Connection``-token logic exists once.)"""
        return self.scan(headers)[0]

    def scan(self, headers: Iterable[tuple[str, str]]) -> tuple[list[tuple[str, str]], list[str]]:
        """One pass for the gate: ``(kept headers, [Authorization values])``, where the kept
        headers are :meth:`filter_request`'s answer."""
        drop = self._drop
        canonical = _CANONICAL.get
        kept: list[tuple[str, str]] = []
        authorization: list[str] = []
        listed: set[str] | None = None
        seen: set[str] | None = None
        forwarded = self.set_forwarded
        cookies = False
        for name, value in headers:
            if not value.isascii():
                check_value(value)
            key = canonical(name) or canonical_name(name)
            if key in SINGLETONS:
                if seen is None:
                    seen = {key}
                elif key in seen:
                    raise InvalidRequest(
                        "a header that may appear once appears twice", reason="duplicate_header"
                    )
                else:
                    seen.add(key)
            if key == "authorization":
                authorization.append(value)
            elif key == "cookie":
                cookies = cookies or OWNED_COOKIE_BASE in value
            elif key == "connection":
                listed = listed or set()
                for token in value.split(","):
                    token = canonical_name(token.strip())
                    if token and token not in _NEVER_CONNECTION_DROPPED:
                        listed.add(token)
            if key not in drop and not (forwarded and key.startswith(_FORWARDED_PREFIX)):
                kept.append((name, value))
        if listed:
            kept = [(n, v) for n, v in kept if canonical_name(n) not in listed]
        if cookies:
            kept = _without_owned_cookies(kept)
        return kept, authorization

    def inject(self, principal: Principal) -> list[tuple[str, str]]:
        """The identity headers for ``principal`` (empty values are omitted)."""
        cache = self._inject_cache
        hit = cache.get(id(principal))
        if hit is not None and hit[0] is principal:
            return list(hit[1])
        out = [(self.principal_id, identity_value(principal.subject))]
        if principal.email:
            out.append((self.email, identity_value(principal.email)))
        if principal.groups:
            out.append((self.groups, ",".join(_group(g) for g in principal.groups)))
        if principal.scopes:
            out.append((self.scopes, identity_value(" ".join(principal.scopes))))
        if principal.attributes:
            for slot, header in self.attribute_names:
                value = principal.attribute(slot)
                if value:
                    out.append((header, safe_value(value)))
        if len(cache) >= _INJECT_CACHE_SIZE:
            cache.clear()
        cache[id(principal)] = (principal, out)
        return list(out)

    def upstream_headers(
        self, headers: Iterable[tuple[str, str]], principal: Principal | None
    ) -> list[tuple[str, str]]:
        """:meth:`filter_request` followed by :meth:`inject` (when authenticated)."""
        out = self.filter_request(headers)
        if principal is not None:
            out.extend(self.inject(principal))
        return out

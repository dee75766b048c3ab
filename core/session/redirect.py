"""Where a user may land after login: same-origin relative paths only.

Open redirects after login are a recurring bug class in auth proxies; each
oauth2-proxy advisory below was a way to smuggle another origin past a
"starts with /" check:

* GHSA-qqxw-m5fj-f7gv: ``/\\evil.example`` — browsers treat ``\\`` as ``/``
  in special URLs (WHATWG URL §4.4), so ``/\\host`` is ``//host``.
* GHSA-j7px-6hwj-hpjg: ``/%09/evil.example`` and similar — tab, CR, LF and
  other whitespace/control characters between the slashes are removed by
  the URL parser, leaving ``//host``.
* GHSA-5m6c-jp6f-2vcv: encoded slashes and backslashes (``/%2F%2Fevil``,
  ``/%5Cevil``) that a later decoding step turns into the above.

:func:`safe_return_path` therefore accepts a value only when the raw value
*and every percent-decoding of it* (applied until it stops changing, at most
:data:`MAX_DECODE_ROUNDS` times) is a path-absolute reference that

* starts with exactly one ``/`` (so no scheme such as ``https:`` or
  ``javascript:``, no ``//`` network-path reference, RFC 3986 §4.2),
* has a path (the part before ``?``/``#``; the query is data) with no
  backslash, no whitespace and no control or format character
  (Unicode categories Cc, Cf, Zs, Zl, Zp: the WHATWG parser strips some of
  them, and some apps or browsers fold others),
* contains no ``.``/``..`` path segment (``/a/..//evil`` resolves to ``//evil``),

and the raw value, query included, is printable ASCII without a backslash.
Anything else yields the fallback ``/``: the user still lands somewhere safe
on the same origin.
"""

from __future__ import annotations

import unicodedata
from urllib.parse import unquote

__all__ = ["MAX_DECODE_ROUNDS", "MAX_RETURN_PATH", "is_safe_return_path", "safe_return_path"]

MAX_RETURN_PATH = 2048
MAX_DECODE_ROUNDS = 4
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp"})


def _layer_ok(value: str) -> bool:
    if not value.startswith("/") or value.startswith("//"):
        return False
    # The query and fragment are data once the path is fixed (an encoded space in
    # ``?q=a%20b`` is fine); the path is where a decoder could make another origin.
    path = value.split("?", 1)[0].split("#", 1)[0]
    if "\\" in path:
        return False
    for ch in path:
        if ch.isspace() or unicodedata.category(ch) in _REFUSED_CATEGORIES:
            return False
    return not any(segment in (".", "..") for segment in path.split("/"))


def is_safe_return_path(value: object) -> bool:
    """True when ``value`` may be used as a post-login ``Location`` (see module doc)."""
    if not isinstance(value, str) or not value or len(value) > MAX_RETURN_PATH:
        return False
    if not all("!" <= ch <= "~" for ch in value) or "\\" in value:  # printable ASCII
        return False
    layer = value
    for _ in range(MAX_DECODE_ROUNDS + 1):
        if not _layer_ok(layer):
            return False
        try:
            decoded = unquote(layer, errors="strict") if "%" in layer else layer
        except UnicodeDecodeError:  # percent-encoded bytes that are not UTF-8
            return False
        if decoded == layer:
            return True
        layer = decoded
    return False  # still changing after every round: deliberately nested encoding


def safe_return_path(value: object, fallback: str = "/") -> str:
    """``value`` when :func:`is_safe_return_path`, else ``fallback``."""
    return value if is_safe_return_path(value) and isinstance(value, str) else fallback

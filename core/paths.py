"""Request-path normalisation for rule matching — and the policy that keeps
the path we match equal to the path the upstream acts on.

Path-confusion attacks work because two parsers disagree: the gate matches
``/public/../admin`` against ``/public/`` while the upstream resolves it to
``/admin``.  authgate avoids the disagreement instead of trying to predict every
upstream's parser.  The policy:

1. The path must be origin-form (start with ``/``) and consist of printable
   ASCII only.  Raw non-ASCII, controls (NUL, CR, LF, TAB), space, ``\\``,
   ``#`` and ``;`` are rejected — ``;`` because servlet containers treat
   ``/admin;x`` as ``/admin`` (path parameters), ``\\`` because some servers
   treat it as ``/``.
2. Every ``%`` must start a well-formed escape.  Escapes of unreserved
   characters (``ALPHA DIGIT - . _ ~``, RFC 3986 §2.3) are decoded, since
   they are equivalent by §6.2.2.2 and every upstream decodes them; other hex
   is upper-cased (§6.2.2.1).  Escapes that would change the structure are
   rejected: ``%2F`` (``/``), ``%5C`` (``\\``), ``%3B`` (``;``), ``%00`` to ``%1F``,
   ``%7F``, and double encoding (step 3).  Escaped bytes >= 0x80 must form
   valid UTF-8, which rules out overlong forms such as
   ``%C0%AE`` (an old way of spelling ``.``), and must not be a Unicode
   compatibility look-alike of ``/ \\ . ; %`` (``%EF%BC%8E`` is a fullwidth
   ``.`` that NFKC-normalising servers turn into a real one).
3. Double encoding is judged on the decoded form, not on the raw bytes: if
   an encoded ``%`` (``%25``) is followed *after step 2* by two hex digits, the
   path is rejected.  Checking only the raw bytes (``%25`` + two raw hex
   digits) misses split spellings: ``%25%32%65`` fully decodes once to
   ``%2e`` and twice to ``.``, so ``/public/%25%32%65%25%32%65/apis/files``
   is ``/public/../apis/files`` to a double-decoding upstream; step 2 turns
   it into ``/public/%252e%252e/apis/files``, which this check refuses.
   Because the check runs on exactly the string we return, the returned form
   never contains ``%25`` + hex, and a second :func:`normalize_path` call
   returns it unchanged: the normal form is a fixed point.
4. On that decoded form, dot-segment removal (RFC 3986 §5.2.4) must be the
   identity and there must be no empty segment (``//``).  A path that
   contains ``.``/``..`` segments (plain or as ``%2e``) or ``//`` is *rejected*
   rather than rewritten: a client that sends it is either broken or probing.

So a path is forwarded only when it is already normal up to the trivial
equivalences of step 2; the upstream then receives the client's original
bytes, and the gate matched the same resource.  Anything else is answered
with 400 (:class:`~authgate.core.errors.InvalidRequest`, reason
``invalid_path``).
"""

from __future__ import annotations

import re
import unicodedata

from .errors import InvalidRequest

__all__ = ["normalize_path", "remove_dot_segments"]

# Already-normal paths (the overwhelming majority) are recognised by one regex:
# pchar without '%' and ';' (RFC 3986 §3.3), no '//' and no segment starting
# with '.'; anything else takes the careful path.
# Separators are mandatory between segments, so the match is linear (no ReDoS).
_SEGMENT = r"[A-Za-z0-9\-_~!$&'()*+,=:@][A-Za-z0-9\-._~!$&'()*+,=:@]*"
_PLAIN = re.compile(rf"/(?:{_SEGMENT}(?:/{_SEGMENT})*/?)?")
_ALLOWED_RAW = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,=:@/%"
)
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_HEX = frozenset("0123456789abcdefABCDEF")
_STRUCTURAL = frozenset("/\\.;%")
_FORBIDDEN_ESCAPES = {0x2F: "%2F", 0x5C: "%5C", 0x3B: "%3B"}
# In the decoded form every '%' starts an upper-case escape, so "%25" is an
# encoded '%'; followed by two hex digits it is a second layer of encoding.
_DOUBLE_ENCODED = re.compile(r"%25[0-9A-Fa-f]{2}")


def _bad(description: str) -> InvalidRequest:
    return InvalidRequest(description, reason="invalid_path")


def remove_dot_segments(path: str) -> str:
    """RFC 3986 §5.2.4 ``remove_dot_segments`` for an absolute path."""
    output: list[str] = []
    segments = path.split("/")[1:]
    for i, seg in enumerate(segments):
        last = i == len(segments) - 1
        if seg == ".":
            if last:
                output.append("")
        elif seg == "..":
            if output:
                output.pop()
            if last:
                output.append("")
        else:
            output.append(seg)
    return "/" + "/".join(output)


def _decode_escapes(path: str) -> str:
    """Step 2 of the policy: decode unreserved escapes, normalise the rest."""
    out: list[str] = []
    i, n = 0, len(path)
    while i < n:
        ch = path[i]
        if ch != "%":
            out.append(ch)
            i += 1
            continue
        hexpair = path[i + 1 : i + 3]
        if len(hexpair) != 2 or not set(hexpair) <= _HEX:
            raise _bad("the path contains a malformed percent-escape")
        byte = int(hexpair, 16)
        if byte < 0x20 or byte == 0x7F:
            raise _bad("the path contains an encoded control character")
        if byte in _FORBIDDEN_ESCAPES:
            raise _bad(f"the path contains {_FORBIDDEN_ESCAPES[byte]}, which is ambiguous")
        if byte >= 0x80:
            j = i
            raw = bytearray()
            while j + 2 < n and path[j] == "%" and set(path[j + 1 : j + 3]) <= _HEX:
                value = int(path[j + 1 : j + 3], 16)
                if value < 0x80:
                    break
                raw.append(value)
                j += 3
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise _bad("the path contains percent-encoded bytes that are not UTF-8") from None
            if set(unicodedata.normalize("NFKC", text)) & _STRUCTURAL:
                raise _bad("the path contains a look-alike of '/', '\\', '.', ';' or '%'")
            out.append("".join(f"%{b:02X}" for b in raw))
            i = j
            continue
        char = chr(byte)
        out.append(char if char in _UNRESERVED else f"%{byte:02X}")
        i += 3
    return "".join(out)


def normalize_path(raw_path: str) -> str:
    """The normalised path used for matching rules (see the module docstring);
    raises :class:`InvalidRequest` when ``raw_path`` is not safely normal.

    ``raw_path`` is the path part of the request target, without the query.
    """
    if _PLAIN.fullmatch(raw_path):
        return raw_path
    if not raw_path.startswith("/"):
        raise _bad("the path must start with '/'")
    for ch in raw_path:
        if ch not in _ALLOWED_RAW:
            if ch == ";":
                raise _bad("the path contains ';' (path parameters are not accepted)")
            raise _bad("the path contains a character that must be percent-encoded")
    decoded = _decode_escapes(raw_path) if "%" in raw_path else raw_path
    if _DOUBLE_ENCODED.search(decoded):
        raise _bad("the path is percent-encoded twice")
    if "//" in decoded:
        raise _bad("the path contains an empty segment ('//')")
    if remove_dot_segments(decoded) != decoded:
        raise _bad("the path contains '.' or '..' segments")
    return decoded

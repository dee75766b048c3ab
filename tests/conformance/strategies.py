"""Hypothesis strategies for conformance cases.

Each draw is one request (``Connection: close``, so the engines answer and
close): a method, a request target (encodings, dot segments, fragments,
absolute form), header fields (case and ``_``/``.`` spellings of identity,
forwarding and hop-by-hop names, ``Connection``-listed names, duplicates,
non-ASCII and control bytes), framing (none, Content-Length, chunked with
extensions, both, broken) and optionally a bearer token with generated
claims; sometimes an upstream reply other than the default.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from .cases import TOKEN, Case
from .recorder import DEFAULT_REPLY

__all__ = ["cases"]

METHODS = [b"GET", b"POST", b"PUT", b"DELETE", b"HEAD", b"OPTIONS", b"PATCH", b"PURGE", b"get"]
PREFIXES = [b"/public/", b"/apis/", b"/apis/files/", b"/apis/admin/", b"/healthz", b"/"]
SEGMENTS = [
    b"x",
    b"a.b",
    b"..",
    b".",
    b"%2e%2e",
    b"%2F",
    b"%41",
    b"%E6%97%A5",
    b"%",
    b"%zz",
    b";x",
    b"a%00",
    b"~u",
    b"",
    b"%25",
    b"\xe6\x97\xa5",
    b"a b",
    b"#f",
    b"\\",
]
QUERIES = [b"", b"?", b"?q=1", b"?access_token=x", b"?a=%20&b", b"?x#frag", b"?%E6"]
NAMES = [
    b"X-NMP-Principal-Id",
    b"x_nmp_principal_id",
    b"X.NMP.Principal.Id",
    b"X-Auth-Request-Email",
    b"X-NMP-Principal-Groups",
    b"X-Debug-User",
    b"X_Debug_User",
    b"X-Forwarded-For",
    b"X_Forwarded_Host",
    b"X-Forwarded-Uri",
    b"X-Forwarded-Prefix",
    b"Forwarded",
    b"Keep-Alive",
    b"TE",
    b"Trailer",
    b"Proxy-Connection",
    b"Proxy-Authorization",
    b"Upgrade",
    b"HTTP2-Settings",
    b"X-Custom",
    b"Accept",
    b"Cookie",
    b"User-Agent",
    b"X-Kept",
    b"Expect",
    b"Content-Type",
]
VALUE_BYTES = st.sampled_from(
    [
        b"a",
        b"B",
        b"1",
        b" ",
        b"\t",
        b",",
        b"%",
        b"=",
        b'"',
        b";",
        b"\xc3\xa9",
        b"\xe6\x97\xa5",
        b"\xe9",
        b"\x00",
        b"\x01",
        b"\x7f",
        b"\r",
        b"admin",
        b"127.0.0.1",
        b"100-continue",
    ]
)
UNICODE = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=12)
REPLIES = [
    DEFAULT_REPLY,
    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n"
    b"2\r\nok\r\n0\r\n\r\n",
    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: X-Secret\r\nX-Secret: s\r\n\r\n",
    b"HTTP/1.1 204 No Content\r\nKeep-Alive: timeout=5\r\n\r\n",
]


@st.composite
def _target(draw: st.DrawFn) -> bytes:
    if draw(st.integers(0, 30)) == 0:
        return draw(st.sampled_from([b"*", b"http://h.example/public/x", b"public/x", b"//x"]))
    path = draw(st.sampled_from(PREFIXES))
    segments = draw(st.lists(st.sampled_from(SEGMENTS), max_size=3))
    return path + b"/".join(segments) + draw(st.sampled_from(QUERIES))


@st.composite
def _field(draw: st.DrawFn) -> bytes:
    name = draw(st.sampled_from(NAMES))
    if draw(st.booleans()):
        name = name.swapcase()
    value = b"".join(draw(st.lists(VALUE_BYTES, max_size=5)))
    return name + b": " + value


@st.composite
def _claims(draw: st.DrawFn) -> dict[str, Any]:
    claims: dict[str, Any] = {}
    if draw(st.booleans()):
        claims["sub"] = draw(UNICODE)
    if draw(st.booleans()):
        claims["email"] = draw(UNICODE) + "@example.com"
    if draw(st.booleans()):
        claims["groups"] = draw(st.lists(UNICODE, max_size=3))
    if draw(st.booleans()):
        claims["scope"] = draw(
            st.sampled_from(
                ["openid", "files:read", "files:read files:write", "platform:read platform:write"]
            )
        )
    return claims


@st.composite
def cases(draw: st.DrawFn) -> Case:
    method = draw(st.sampled_from(METHODS))
    version = draw(st.sampled_from([b"HTTP/1.1"] * 6 + [b"HTTP/1.0"]))
    lines = [method + b" " + draw(_target()) + b" " + version]
    hosts = draw(st.sampled_from([[b"h.example"]] * 8 + [[], [b"a", b"b"], [b"a b"], [b"[::1]"]]))
    lines += [b"Host: " + h for h in hosts]
    fields = draw(st.lists(_field(), max_size=5))
    lines += fields
    listed = draw(st.lists(st.sampled_from([*NAMES, b"Host", b"Content-Length"]), max_size=2))
    if listed:
        lines.append(b"Connection: " + b", ".join(listed))
    claims: dict[str, Any] = {}
    if draw(st.integers(0, 2)) > 0:
        claims = draw(_claims())
        lines.append(b"Authorization: Bearer " + TOKEN)
    body = b""
    framing = draw(st.sampled_from(["none"] * 3 + ["length", "chunked", "both", "bad-length"]))
    payload = draw(st.binary(max_size=32))
    if framing == "length":
        lines.append(b"Content-Length: %d" % len(payload))
        body = payload
    elif framing in ("chunked", "both"):
        ext = draw(st.sampled_from([b"", b";a=b", b";x"]))
        lines.append(b"Transfer-Encoding: chunked")
        if framing == "both":
            lines.append(b"Content-Length: 3")
        body = b"%x" % len(payload) + ext + b"\r\n" + payload + b"\r\n" if payload else b""
        body += b"0\r\n\r\n"
    elif framing == "bad-length":
        lines.append(b"Content-Length: " + draw(st.sampled_from([b"-1", b"1,2", b"+3", b"0x2"])))
    lines.append(b"Connection: close")
    data = b"\r\n".join(lines) + b"\r\n\r\n" + body
    reply = draw(st.sampled_from(REPLIES))
    return Case("generated", data, reply=reply, claims=claims)

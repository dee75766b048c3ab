"""Hand-written hostile and edge requests, as raw bytes.

Grouped by what they probe; advisories are cited where a case reproduces one.
Paths under ``/public/`` need no token (``base_config``); ``/apis/…`` needs
``TOKEN``.
"""

from __future__ import annotations

from .cases import TOKEN, Case, request

__all__ = ["CORPUS"]

AUTH = (b"Authorization", b"Bearer " + TOKEN)
CL_BODY = [(b"Content-Length", b"5")]


def _reply(*lines: bytes, body: bytes = b"ok") -> bytes:
    return b"HTTP/1.1 200 OK\r\n" + b"".join(line + b"\r\n" for line in lines) + b"\r\n" + body


# fmt: off
_CASES: list[Case] = [
    # --- baseline -------------------------------------------------------------------------
    Case("plain-get", request("GET /public/x HTTP/1.1")),
    Case("authenticated-get", request("GET /apis/x?q=1 HTTP/1.1", [AUTH])),
    Case("head", request("HEAD /public/x HTTP/1.1")),
    Case("post-length", request("POST /public/x HTTP/1.1", CL_BODY, b"hello")),
    Case("post-chunked", request("POST /public/x HTTP/1.1", [(b"Transfer-Encoding", b"chunked")],
                                 b"5\r\nhello\r\n0\r\n\r\n")),
    Case("chunk-extension", request(
        "POST /public/x HTTP/1.1", [(b"Transfer-Encoding", b"chunked")],
        b"5;name=value\r\nhello\r\n0\r\n\r\n")),
    Case("chunk-trailer", request(
        "POST /public/x HTTP/1.1", [(b"Transfer-Encoding", b"chunked")],
        b"5\r\nhello\r\n0\r\nX-Trailer: t\r\n\r\n")),
    Case("no-token", request("GET /apis/x HTTP/1.1")),
    Case("bad-token", request("GET /apis/x HTTP/1.1", [(b"Authorization", b"Bearer abc.def.ghi")])),
    Case("scope-denied", request("DELETE /apis/files/a HTTP/1.1", [AUTH])),
    Case("keep-alive-idle", request("GET /public/x HTTP/1.1", close=False)),
    Case("pipelined-two", request("GET /public/a HTTP/1.1", close=False)
         + request("GET /public/b HTTP/1.1"), requests=2),
    # --- Host (RFC 9112 §3.2) ----------------------------------------------------------------
    Case("two-hosts", request("GET /public/x HTTP/1.1", [(b"Host", b"b")])),
    Case("no-host-http11", request("GET /public/x HTTP/1.1", host=None)),
    Case("no-host-http10", request("GET /public/x HTTP/1.0", host=None)),
    Case("invalid-host", request("GET /public/x HTTP/1.1", host=b"a b/c@d")),
    Case("host-userinfo", request("GET /public/x HTTP/1.1", host=b"user@h.example")),
    Case("host-ipv6", request("GET /public/x HTTP/1.1", host=b"[::1]:8080")),
    Case("host-empty", request("GET /public/x HTTP/1.1", host=b"")),
    # --- framing (RFC 9112 §6) ---------------------------------------------------------------
    Case("te-and-cl", request("POST /public/x HTTP/1.1",
                              [(b"Content-Length", b"3"), (b"Transfer-Encoding", b"chunked")],
                              b"5\r\nhello\r\n0\r\n\r\n")),
    Case("two-cl-differ", request("POST /public/x HTTP/1.1",
                                  [(b"Content-Length", b"5"), (b"Content-Length", b"6")],
                                  b"hello!")),
    Case("cl-list", request("POST /public/x HTTP/1.1", [(b"Content-Length", b"5, 5")], b"hello")),
    Case("cl-plus", request("POST /public/x HTTP/1.1", [(b"Content-Length", b"+5")], b"hello")),
    Case("cl-negative", request("POST /public/x HTTP/1.1", [(b"Content-Length", b"-1")])),
    Case("te-gzip-only", request("POST /public/x HTTP/1.1", [(b"Transfer-Encoding", b"gzip")],
                                 b"hello")),
    Case("te-xchunked", request("POST /public/x HTTP/1.1", [(b"Transfer-Encoding", b"xchunked")],
                                b"5\r\nhello\r\n0\r\n\r\n")),
    Case("te-chunked-then-gzip", request(
        "POST /public/x HTTP/1.1", [(b"Transfer-Encoding", b"chunked, gzip")],
        b"5\r\nhello\r\n0\r\n\r\n")),
    Case("te-http10", request("POST /public/x HTTP/1.0", [(b"Transfer-Encoding", b"chunked")],
                              b"5\r\nhello\r\n0\r\n\r\n")),
    Case("te-space-before-colon", request(
        "POST /public/x HTTP/1.1", [b"Transfer-Encoding : chunked"], b"5\r\nhello\r\n0\r\n\r\n")),
    Case("chunk-size-bad", request("POST /public/x HTTP/1.1", [(b"Transfer-Encoding", b"chunked")],
                                   b"zz\r\nhello\r\n0\r\n\r\n")),
    Case("cl-smuggle-second", request("POST /public/x HTTP/1.1", [(b"Content-Length", b"0")],
                                      b"GET /apis/admin/x HTTP/1.1\r\nHost: h\r\n\r\n"),
         requests=2),
    # --- field syntax (RFC 9112 §5, RFC 9110 §5.5) ---------------------------------------------
    Case("obs-fold", request("GET /public/x HTTP/1.1", [b"X-A: one", b" two"])),
    Case("space-in-name", request("GET /public/x HTTP/1.1", [b"X A: v"])),
    Case("nul-in-value", request("GET /public/x HTTP/1.1", [b"X-A: a\x00b"])),
    Case("bare-cr-in-value", request("GET /public/x HTTP/1.1", [b"X-A: a\rb"])),
    Case("del-in-name", request("GET /public/x HTTP/1.1", [b"X-\x7fA: v"])),
    Case("utf8-value", request("GET /public/x HTTP/1.1", [(b"X-Name", "józef 日本".encode())])),
    Case("latin1-value", request("GET /public/x HTTP/1.1", [(b"X-Name", b"jos\xe9")])),
    Case("empty-value", request("GET /public/x HTTP/1.1", [(b"X-Empty", b"")])),
    Case("tab-in-value", request("GET /public/x HTTP/1.1", [(b"X-Tab", b"a\tb")])),
    Case("lf-only-lines", b"GET /public/x HTTP/1.1\nHost: h\nConnection: close\n\n"),
    # --- request target (RFC 9112 §3.2) ------------------------------------------------------
    Case("absolute-form", request("GET http://h.example/public/x HTTP/1.1")),
    Case("asterisk-form", request("OPTIONS * HTTP/1.1")),
    Case("fragment", request("GET /public/x#frag HTTP/1.1")),  # oauth2-proxy CVE-2026-41059
    Case("dot-segments", request("GET /public/../apis/admin/x HTTP/1.1")),
    Case("encoded-dots", request("GET /public/%2e%2e/apis/admin/x HTTP/1.1")),
    Case("encoded-slash", request("GET /public/a%2Fb HTTP/1.1")),
    Case("empty-query", request("GET /public/x? HTTP/1.1")),
    Case("query-token", request("GET /public/x?access_token=abc HTTP/1.1")),
    Case("raw-utf8-target", request("GET /public/\xe6\x97\xa5 HTTP/1.1".encode("latin-1"))),
    Case("encoded-unicode", request("GET /public/%E6%97%A5?x=%20 HTTP/1.1")),
    Case("http09-line", b"GET /public/x\r\n\r\n"),
    Case("lowercase-method", request("get /public/x HTTP/1.1")),
    Case("odd-method", request("PURGE /public/x HTTP/1.1")),
    Case("http2-version", request("GET /public/x HTTP/2.0")),
    # --- hop-by-hop and Connection -----------------------------------------------------------
    Case("hop-by-hop-request", request("GET /public/x HTTP/1.1", [
        (b"Keep-Alive", b"timeout=5"), (b"TE", b"trailers"), (b"Trailer", b"X-T"),
        (b"Proxy-Connection", b"keep-alive"), (b"Proxy-Authorization", b"Basic eDp5")])),
    Case("connection-listed", request("GET /public/x HTTP/1.1", [
        (b"Connection", b"X-Secret, keep-alive"), (b"X-Secret", b"s"), (b"X-Kept", b"k")])),
    Case("connection-lists-host", request("GET /public/x HTTP/1.1", [(b"Connection", b"Host")])),
    # Traefik CVE-2024-45410: Connection names an identity header to delete the injected one
    Case("connection-drops-identity", request("GET /apis/x HTTP/1.1", [
        AUTH, (b"Connection", b"X-NMP-Principal-Id, X-NMP-Principal-Email")])),
    # --- identity headers (issue 11 defect 7) --------------------------------------------------
    Case("identity-spoof", request("GET /apis/x HTTP/1.1", [
        AUTH, (b"X-NMP-Principal-Id", b"admin"), (b"X_NMP_Principal_Id", b"admin"),
        (b"X.NMP.Principal.Id", b"admin"), (b"x-auth-request-email", b"a@evil")])),
    Case("identity-spoof-public", request("GET /public/x HTTP/1.1", [
        (b"X-NMP-Principal-Id", b"admin"), (b"X-Debug-User", b"root"), (b"X_Debug.User", b"r")])),
    Case("identity-non-latin1", request("GET /apis/x HTTP/1.1", [AUTH]),
         claims={"sub": "józef-ł-日本-🙂", "email": "josé@example.com", "groups": ["ß,x", "a b"]}),
    # oauth2-proxy GHSA-7x63-xv5r-3p2x: spoofed forwarding headers
    Case("forwarded-spoof", request("GET /public/x HTTP/1.1", [
        (b"X-Forwarded-For", b"6.6.6.6"), (b"X-Forwarded-Host", b"evil"),
        (b"X-Forwarded-Proto", b"https"), (b"X-Forwarded-Uri", b"/public/"),
        (b"X-Forwarded-Prefix", b"/public"), (b"Forwarded", b"for=6.6.6.6"),
        (b"X_Forwarded_For", b"6.6.6.7")])),
    # --- upgrades (issue 11 defect 1) --------------------------------------------------------
    Case("h2c-upgrade", request("GET /public/x HTTP/1.1", [
        (b"Connection", b"Upgrade, HTTP2-Settings"), (b"Upgrade", b"h2c"),
        (b"HTTP2-Settings", b"AAMAAABkAAQAAP__")])),
    Case("h2c-upgrade-101", request("GET /public/x HTTP/1.1", [
        (b"Connection", b"Upgrade"), (b"Upgrade", b"h2c")]),
        reply=b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"),
    Case("websocket-refused-by-upstream", request("GET /public/ws HTTP/1.1", [
        (b"Connection", b"Upgrade"), (b"Upgrade", b"websocket"), (b"Sec-WebSocket-Version", b"13"),
        (b"Sec-WebSocket-Key", b"dGhlIHNhbXBsZSBub25jZQ==")], close=False),
        reply=_reply(b"Content-Length: 2", b"Connection: close")),
    Case("h2-preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
    # --- Expect -----------------------------------------------------------------------------
    Case("expect-continue", request("POST /public/x HTTP/1.1",
                                    [(b"Expect", b"100-continue"), *CL_BODY], b"hello")),
    Case("expect-continue-denied", request("POST /apis/x HTTP/1.1",
                                           [(b"Expect", b"100-continue"), *CL_BODY], b"hello")),
    Case("expect-unknown", request("POST /public/x HTTP/1.1",
                                   [(b"Expect", b"something"), *CL_BODY], b"hello")),
    # --- HTTP/1.0 clients -------------------------------------------------------------------
    Case("http10", request("GET /public/x HTTP/1.0", close=False)),
    Case("http10-keep-alive", request("GET /public/x HTTP/1.0", [(b"Connection", b"keep-alive")],
                                      close=False)),
    Case("http10-chunked-reply", request("GET /public/x HTTP/1.0"),
         reply=_reply(b"Transfer-Encoding: chunked", body=b"2\r\nok\r\n0\r\n\r\n")),
    # --- responses ---------------------------------------------------------------------------
    Case("reply-hop-by-hop", request("GET /public/x HTTP/1.1"), reply=_reply(
        b"Content-Length: 2", b"Connection: X-Internal", b"X-Internal: i", b"Keep-Alive: 5",
        b"Upgrade: h2c", b"Trailer: X-T", b"Proxy-Authenticate: Basic", b"Date: x")),
    Case("reply-no-content-type", request("GET /public/x HTTP/1.1"),
         reply=_reply(b"Content-Length: 2", b"Date: x")),
    Case("reply-103", request("GET /public/x HTTP/1.1"),
         reply=b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n"
         + _reply(b"Content-Length: 2", b"Content-Type: text/plain", b"Date: x")),
    Case("reply-103-http10", request("GET /public/x HTTP/1.0"),
         reply=b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n"
         + _reply(b"Content-Length: 2", b"Content-Type: text/plain", b"Date: x")),
    Case("reply-latin1-header", request("GET /public/x HTTP/1.1"),
         reply=_reply(b"Content-Length: 2", b"X-Name: jos\xe9", b"Date: x")),
    Case("reply-chunked", request("GET /public/x HTTP/1.1"),
         reply=_reply(b"Transfer-Encoding: chunked", b"Content-Type: text/plain", b"Date: x",
                      body=b"2\r\nok\r\n0\r\n\r\n")),
    Case("reply-no-length", request("GET /public/x HTTP/1.1"),
         reply=_reply(b"Content-Type: text/plain", b"Connection: close", b"Date: x")),
    Case("reply-204", request("GET /public/x HTTP/1.1"),
         reply=b"HTTP/1.1 204 No Content\r\nDate: x\r\n\r\n"),
    Case("reply-304", request("GET /public/x HTTP/1.1"),
         reply=b"HTTP/1.1 304 Not Modified\r\nETag: \"e\"\r\nDate: x\r\n\r\n"),
    Case("reply-odd-reason", request("GET /public/x HTTP/1.1"),
         reply=b"HTTP/1.1 299 Whatever Man\r\nContent-Length: 0\r\nDate: x\r\n\r\n"),
    Case("reply-server-banner", request("GET /public/x HTTP/1.1"),
         reply=_reply(b"Content-Length: 2", b"Server: app/1", b"Date: x")),
    Case("reply-set-cookie-twice", request("GET /public/x HTTP/1.1"),
         reply=_reply(b"Content-Length: 2", b"Set-Cookie: a=1", b"Set-Cookie: b=2", b"Date: x")),
    Case("reply-utf8-header", request("GET /public/x HTTP/1.1"),
         reply=_reply(b"Content-Length: 2", "X-Name: józef".encode(), b"Date: x")),
    Case("reply-head", request("HEAD /public/x HTTP/1.1"),
         reply=b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nDate: x\r\n\r\n"),
]
# fmt: on

CORPUS: dict[str, Case] = {case.name: case for case in _CASES}
assert len(CORPUS) == len(_CASES), "corpus case names must be unique"

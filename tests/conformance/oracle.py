"""An RFC 9110/9112 oracle: rules both engines could break together.

Agreement between the engines is not correctness, so each engine's outcome
is also checked on its own against the rules below (each names its section).
The oracle reads the case's first request with its own strict parser
(:func:`request_facts`), independent of httptools and aiohttp's llhttp.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from authgate.core.headers import PRESET_IDENTITY, canonical_name

from .cases import Case, Observed

__all__ = ["RequestFacts", "check", "request_facts"]

_TCHAR = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_HOST = re.compile(rb"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]*)(?::[0-9]*)?")
_DIGITS = re.compile(rb"[0-9]+")
#: Never forwarded (RFC 9110 §7.6.1, §7.8; RFC 9113 §3.1 retired h2c).
_HOP = {
    b"connection",
    b"keep-alive",
    b"te",
    b"trailer",
    b"upgrade",
    b"proxy-connection",
    b"proxy-authorization",
    b"http2-settings",
    b"transfer-encoding",
}
#: Set by the proxy itself after filtering (``headers.set_forwarded``).
_SET_BY_PROXY = {b"x-forwarded-for", b"x-forwarded-host", b"x-forwarded-proto"}
_RESPONSE_HOP = {
    b"keep-alive",
    b"te",
    b"trailer",
    b"upgrade",
    b"proxy-connection",
    b"proxy-authenticate",
}


@dataclass(frozen=True)
class RequestFacts:
    """What a strict reading of the first request says."""

    method: bytes
    target: bytes
    version: bytes
    fields: tuple[tuple[bytes, bytes], ...]
    bad_line: bool  # not ``method SP target SP HTTP/1.x``
    bad_field: bool  # a field line that is not ``token ":" OWS value OWS``
    obs_fold: bool
    bad_value: bool  # NUL, bare CR/LF or another control byte in a value

    def values(self, name: bytes) -> list[bytes]:
        return [v for n, v in self.fields if n.lower() == name]

    @property
    def connection_listed(self) -> set[bytes]:
        return {
            t.strip().lower()
            for v in self.values(b"connection")
            for t in v.split(b",")
            if t.strip()
        }


def request_facts(data: bytes) -> RequestFacts:
    head = data.split(b"\r\n\r\n", 1)[0]
    line, *raw_fields = head.split(b"\r\n")
    parts = line.split(b" ")
    bad_line = (
        len(parts) != 3
        or not _TCHAR.fullmatch(parts[0])
        or parts[2] not in (b"HTTP/1.1", b"HTTP/1.0")
    )
    method, target, version = [*parts, b"", b"", b""][:3]
    fields: list[tuple[bytes, bytes]] = []
    bad_field = obs_fold = bad_value = False
    for raw in raw_fields:
        if raw[:1] in (b" ", b"\t"):
            obs_fold = True
            continue
        name, sep, value = raw.partition(b":")
        if not sep or not _TCHAR.fullmatch(name):
            bad_field = True
            continue
        value = value.strip(b" \t")
        if any((b < 0x20 and b != 0x09) or b == 0x7F for b in value):
            bad_value = True
        fields.append((name, value))
    return RequestFacts(
        method, target, version, tuple(fields), bad_line, bad_field, obs_fold, bad_value
    )


def _host_violation(facts: RequestFacts) -> bool:
    hosts = facts.values(b"host")
    if len(hosts) > 1 or (facts.version == b"HTTP/1.1" and not hosts):
        return True
    return any(_HOST.fullmatch(h) is None for h in hosts)


def _framing_violation(facts: RequestFacts) -> bool:
    lengths = facts.values(b"content-length")
    codings = facts.values(b"transfer-encoding")
    if codings:
        final = b",".join(codings).split(b",")[-1].strip().lower()
        if final != b"chunked" or facts.version == b"HTTP/1.0":
            return True  # RFC 9112 §6.3 (4), §6.1
    if len(lengths) > 1 or any(not _DIGITS.fullmatch(v) for v in lengths):
        return True  # RFC 9112 §6.3 (5): invalid or differing lengths
    return False


def _target_violation(facts: RequestFacts) -> bool:
    target = facts.target
    if not target.startswith(b"/"):
        return True  # authgate accepts origin-form only (docs/proxy.md)
    return any(b <= 0x20 or b >= 0x7F or b in b"#\\" for b in target)


def check(case: Case, observed: Observed) -> list[str]:
    """The rules ``observed`` breaks (empty: none)."""
    facts = request_facts(case.data)
    final = observed.client.final
    status = final.status if final is not None else 0
    out: list[str] = []
    refused_with_400 = status == 400 and not observed.upstream

    def must_refuse(rule: str) -> None:
        if not refused_with_400:
            out.append(
                f"{rule}: expected 400 and nothing forwarded, got {status} "
                f"and {len(observed.upstream)} forwarded"
            )

    if facts.bad_line:
        if observed.upstream:
            out.append("RFC 9112 §3: a malformed request line was forwarded")
    elif facts.bad_field:
        must_refuse("RFC 9112 §5.1 invalid field line")
    elif facts.obs_fold:
        if observed.upstream and status != 400:
            for fwd in observed.upstream:
                if any(n[:1] in (b" ", b"\t") for n, _ in fwd.headers) or fwd.unparsed:
                    out.append("RFC 9112 §5.2: obs-fold forwarded unreplaced")
    elif facts.bad_value:
        for fwd in observed.upstream:
            if any(re.search(rb"[\x00\r\n]", v) for _, v in fwd.headers):
                out.append("RFC 9110 §5.5: NUL/CR/LF forwarded in a field value")
    elif _host_violation(facts):
        must_refuse("RFC 9112 §3.2 Host")
    elif _framing_violation(facts):
        must_refuse("RFC 9112 §6.3 framing")
    elif _target_violation(facts):
        must_refuse("RFC 9112 §3.2 request-target")

    listed = facts.connection_listed - {b"host", b"content-length"}
    websocket = b"websocket" in b",".join(facts.values(b"upgrade")).lower()
    for fwd in observed.upstream:
        names = [n.lower() for n, _ in fwd.headers]
        for name in names:
            if name in _HOP and not (websocket and name in (b"connection", b"upgrade")):
                if name == b"transfer-encoding" and fwd.framing == "chunked":
                    continue
                out.append(f"RFC 9110 §7.6.1: hop-by-hop {name!r} forwarded")
            injected_here = canonical_name(name.decode("latin-1")) in PRESET_IDENTITY
            ours = (
                injected_here
                or name in _SET_BY_PROXY
                or (websocket and name in (b"connection", b"upgrade"))
            )
            if name in listed and not ours:  # identity and websocket fields are added by us
                out.append(f"RFC 9110 §7.6.1: Connection-listed {name!r} forwarded")
        if names.count(b"content-length") > 1 or (
            b"content-length" in names and b"transfer-encoding" in names
        ):
            out.append("RFC 9112 §6.3: forwarded with ambiguous framing")
        identity = [canonical_name(n.decode("latin-1")) for n in names]
        injected = [n for n in identity if n in PRESET_IDENTITY]
        if len(injected) != len(set(injected)):
            out.append("identity header sent twice (a client spelling survived)")
        if not facts.values(b"authorization") and injected:
            out.append("identity header forwarded for an unauthenticated request")
    if len(observed.upstream) > case.requests:
        out.append(f"{len(observed.upstream)} requests forwarded for {case.requests} sent")

    upstream_listed = _listed(case.reply)
    for response in observed.client.responses:
        names = [n.lower() for n, _ in response.headers]
        for name in names:
            if name in _RESPONSE_HOP and not (response.status == 101 and name == b"upgrade"):
                out.append(f"RFC 9110 §7.6.1: hop-by-hop {name!r} in the response")
            if name in upstream_listed:
                out.append(f"RFC 9110 §7.6.1: upstream's Connection-listed {name!r} relayed")
        if response.status >= 200 and b"date" not in names:
            out.append("RFC 9110 §6.6.1: response without Date")
        if names.count(b"content-length") > 1 or (
            b"content-length" in names and b"transfer-encoding" in names
        ):
            out.append("RFC 9112 §6.3: response with ambiguous framing")
        if facts.version == b"HTTP/1.0" and response.framing == "chunked":
            out.append("RFC 9112 §7.1: chunked response to an HTTP/1.0 client")
    if status >= 400 and any(r.status == 100 for r in observed.client.responses):
        out.append("RFC 9110 §10.1.1: 100 Continue invited the body of a refused request")
    if facts.version == b"HTTP/1.0" and any(
        100 <= r.status < 200 for r in observed.client.responses
    ):
        out.append("RFC 9110 §15.2: a 1xx response sent to an HTTP/1.0 client")
    if status == 101 and not websocket:
        out.append("RFC 9110 §7.8: a protocol switch the client did not ask for reached it")
    return out


def _listed(reply: bytes) -> set[bytes]:
    head = reply.split(b"\r\n\r\n")
    names: set[bytes] = set()
    for block in head:
        for line in block.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"connection":
                names.update(t.strip().lower() for t in value.split(b",") if t.strip())
    return names - {b"close", b"keep-alive"}

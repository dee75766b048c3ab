"""Requests the HTTP parser rejects: a fixed JSON 400, never an echo of the input.

aiohttp's default answer to a parse error quotes the offending raw line — an
obs-folded ``Authorization`` header (RFC 9112 §5.2) puts the bearer token in
the 400 body and in the ``aiohttp.server`` log.  These run against both
engines; the redaction filter is also checked in-process.
"""

from __future__ import annotations

import json
import logging
import sys

import pytest

from authgate.proxy.accesslog import AiohttpRedactionFilter, JsonFormatter
from tests.support.rawhttp import raw_request

from .proxy_harness import FakeIdP, ProxyProcess

pytestmark = pytest.mark.integration


def _obs_fold_authorization(token: str) -> bytes:
    return f"GET /apis/x HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer\r\n {token}\r\n".encode()


def _obs_fold_after_authorization(token: str) -> bytes:
    return (
        f"GET /apis/x HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
        "X-Note: a\r\n folded\r\n"
    ).encode()


def _header_line_without_colon(token: str) -> bytes:
    return f"GET /apis/x HTTP/1.1\r\nHost: x\r\nBearer {token}\r\n".encode()


def _token_in_bad_request_line(token: str) -> bytes:
    return f"GET /apis/x?access_token={token} junk HTTP/1.1\r\nHost: x\r\n".encode()


MALFORMED = {
    "obs-fold-authorization": _obs_fold_authorization,
    "obs-fold-after-authorization": _obs_fold_after_authorization,
    "header-without-colon": _header_line_without_colon,
    "bad-request-line": _token_in_bad_request_line,
}


@pytest.mark.parametrize("shape", sorted(MALFORMED))
async def test_malformed_request_gets_json_400_without_echo(
    proxy: ProxyProcess, fake_idp: FakeIdP, engine: str, shape: str
) -> None:
    token = fake_idp.mint(sub=f"malformed-{shape}")
    head = MALFORMED[shape](token) + b"Connection: close\r\n\r\n"

    resp = await raw_request(proxy.port, head)

    assert resp.status == 400, resp
    assert (resp.header("Content-Type") or "").startswith("application/json"), resp.headers
    body = resp.json()
    assert body["error"] == "invalid_request", body
    if engine == "aiohttp":
        assert body["reason"] == "malformed_request", body
    assert token.encode() not in resp.body
    assert all(token not in value for _, value in resp.headers)
    # The token's signature part alone must not leak either (a partial echo).
    assert token.rsplit(".", 1)[1] not in resp.body.decode("latin-1")
    assert token.rsplit(".", 1)[1] not in proxy.log()


async def test_malformed_request_is_logged_with_a_reason_only(
    proxy: ProxyProcess, fake_idp: FakeIdP, engine: str
) -> None:
    token = fake_idp.mint(sub="malformed-log")
    resp = await raw_request(
        proxy.port, _obs_fold_authorization(token) + b"Connection: close\r\n\r\n"
    )
    assert resp.status == 400
    records = [json.loads(line) for line in proxy.log().splitlines() if line.startswith("{")]
    assert token not in proxy.log()
    if engine == "aiohttp":
        rejected = [r for r in records if r.get("msg") == "malformed request rejected"]
        assert rejected and rejected[-1]["reason"] == "malformed_request", records[-5:]
        assert rejected[-1]["exc_type"] == "BadHttpMessage"
        access = [r for r in records if r.get("logger") == "authgate.access"]
        assert access and access[-1]["status"] == 400
        assert access[-1]["outcome"] == "rejected"
        assert access[-1]["reason"] == "malformed_request"


def test_aiohttp_records_are_reduced_to_their_template() -> None:
    secret = "eyJ.secret-token.sig"
    try:
        raise ValueError(f"Unexpected whitespace after header value: {secret!r}")
    except ValueError:
        record = logging.LogRecord(
            "aiohttp.server",
            logging.ERROR,
            __file__,
            1,
            "Error handling request from %s: %s",
            ("127.0.0.1", secret),
            sys.exc_info(),
        )
    assert AiohttpRedactionFilter().filter(record) is True
    line = JsonFormatter().format(record)
    assert secret not in line
    entry = json.loads(line)
    assert entry["msg"] == "Error handling request from %s: %s"
    assert entry["exc_type"] == "ValueError"
    assert "exc" not in entry

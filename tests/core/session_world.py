"""The in-memory browser world the session-flow tests share: an IdP with a real
token endpoint (signed tokens, single-use codes, PKCE checked), the core gate with
the session cookie as a credential source, and the cookie-jar helpers a browser
would be. Kept in one module so the flow and callback tests drive the same world
instead of each building its own copy; the ``world`` fixture is re-exported by
conftest."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from authgate.core.gate import Gate
from authgate.core.keys import KeyCache
from authgate.core.oidc import FetchResult
from authgate.core.session import BrowserSessions, build_browser
from authgate.core.session.crypto import generate_key_material
from authgate.core.session.source import SessionCookieSource
from authgate.core.verify import TokenVerifier
from tests.support.fetchers import MemoryIdP

from .core_helpers import FAST_KEYS, ISSUER, Keys, claims, make_config, sign

HOST = "app.example.com"
WEB = "authgate-web"
NAV = [
    ("Host", HOST),
    ("Accept", "text/html,application/xhtml+xml"),
    ("Sec-Fetch-Mode", "navigate"),
]


@dataclass
class TokenEndpoint:
    """Issues tokens for codes it handed out; each code works once."""

    keys: Keys
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    used: set[str] = field(default_factory=set)
    refresh_ok: bool = True
    access_lifetime: int = 300
    calls: list[dict[str, str]] = field(default_factory=list)

    def authorize(self, url: str, nonce: str | None = None) -> str:
        q = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
        code = secrets.token_urlsafe(8)
        self.codes[code] = {**q, "nonce": nonce or q["nonce"]}
        return code

    def tokens(self, nonce: str | None) -> dict[str, Any]:
        import time

        now = int(time.time())
        access = sign(self.keys.rsa, claims(exp=now + self.access_lifetime, pad="p" * 3000))
        out: dict[str, Any] = {
            "access_token": access,
            "refresh_token": secrets.token_urlsafe(32),
            "expires_in": self.access_lifetime,
        }
        if nonce is not None:
            out["id_token"] = sign(self.keys.rsa, claims(aud=WEB, azp=WEB, nonce=nonce, scope=None))
        return out

    async def __call__(self, url: str, form: Any, headers: Any) -> FetchResult:
        self.calls.append(dict(form))
        if form["grant_type"] == "refresh_token":
            if not self.refresh_ok:
                return FetchResult(400, b'{"error":"invalid_grant"}')
            return FetchResult(200, json.dumps(self.tokens(None)).encode())
        code = form["code"]
        grant = self.codes.get(code)
        if grant is None or code in self.used:
            return FetchResult(400, b'{"error":"invalid_grant"}')
        self.used.add(code)
        digest = hashlib.sha256(form["code_verifier"].encode()).digest()
        challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        assert grant["code_challenge"] == challenge and grant["code_challenge_method"] == "S256"
        assert form["redirect_uri"] == grant["redirect_uri"] == f"https://{HOST}/apis/auth/callback"
        return FetchResult(200, json.dumps(self.tokens(grant["nonce"])).encode())


@dataclass
class World:
    gate: Gate
    browser: BrowserSessions
    idp: TokenEndpoint
    key_dir: Path

    async def request(self, method: str, target: str, headers: list[tuple[str, str]]) -> Any:
        """What the shared edge does: a browser path is answered by the core;
        otherwise one Gate.decide (the cookie is a credential source) and, on a
        refusal, the login redirect for a navigation (else the error is raised)."""
        from authgate.core.errors import AuthError
        from authgate.core.session import BROWSER_PATHS, handle_browser_endpoint

        path = target.split("?", 1)[0]
        if path in BROWSER_PATHS:
            return await handle_browser_endpoint(self.browser, method, path, target, headers)
        try:
            decision = await self.gate.decide(method, target, headers)
        except AuthError as exc:
            redirect = self.browser.denied(method, target, path, headers, exc, None)
            if redirect is not None:
                return redirect
            raise
        return decision, decision


def jar_of(answer: Any) -> dict[str, str]:
    jar = {}
    for k, v in answer.headers:
        if k == "Set-Cookie":
            name, _, rest = v.partition("=")
            value = rest.split(";", 1)[0]
            if "Max-Age=0" in v:
                jar[name] = None
            else:
                jar[name] = value
    return jar


def cookie_header(jar: dict[str, str | None]) -> tuple[str, str]:
    return ("Cookie", "; ".join(f"{k}={v}" for k, v in jar.items() if v is not None))


def header(answer: Any, name: str) -> str:
    return next(v for k, v in answer.headers if k == name)


@pytest.fixture
async def world(idp: MemoryIdP, keys: Keys, tmp_path: Path) -> World:
    (tmp_path / "k1").write_text(generate_key_material())
    (tmp_path / "current").write_text("k1")
    config = make_config(
        browser={
            "enabled": True,
            "client_id": WEB,
            "session_keys_dir": str(tmp_path),
            "never_redirect": ["/api/"],
        }
    )
    cache = KeyCache(ISSUER, idp, FAST_KEYS)
    await cache.refresh()
    tokens = TokenEndpoint(keys)
    browser = build_browser(
        config,
        {ISSUER: cache},
        lambda: cache.metadata,
        tokens,
        access_verifier=TokenVerifier(config, {ISSUER: cache}),
    )
    assert browser is not None
    gate = Gate.from_config(
        config, {ISSUER: cache}, [lambda _config, verifier: SessionCookieSource(browser, verifier)]
    )
    return World(gate, browser, tokens, tmp_path)


async def login(world: World, target: str = "/app/page?x=1&y=2") -> dict[str, str | None]:
    answer = await world.request("GET", target, NAV)
    assert answer.status == 302
    location = header(answer, "Location")
    assert location.startswith(ISSUER + "/protocol/openid-connect/auth?")
    jar = jar_of(answer)
    code = world.idp.authorize(location)
    state = parse_qs(urlsplit(location).query)["state"][0]
    back = await world.request(
        "GET",
        f"/apis/auth/callback?code={code}&state={state}&iss={ISSUER}",
        [*NAV, cookie_header(jar)],
    )
    assert back.status == 302, back.body
    assert header(back, "Location") == target
    jar.update(jar_of(back))
    return jar


async def start(world: World) -> tuple[dict[str, str | None], str, str]:
    answer = await world.request("GET", "/start", NAV)
    location = header(answer, "Location")
    return jar_of(answer), location, parse_qs(urlsplit(location).query)["state"][0]


async def callback(world: World, query: str, jar: dict[str, str | None]) -> Any:
    return await world.request("GET", f"/apis/auth/callback?{query}", [*NAV, cookie_header(jar)])

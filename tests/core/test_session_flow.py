"""The browser flow end to end in memory: an IdP with a real token endpoint
(signed tokens, single-use codes, PKCE checked), the core gate, and every
hostile callback input."""

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

from authgate.core.errors import Forbidden, MissingToken
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


async def test_navigation_logs_in_and_lands_on_the_original_url(world: World) -> None:
    jar = await login(world)
    session_cookies = [k for k, v in jar.items() if v and k.startswith("__Host-authgate-session")]
    assert session_cookies  # chunked or whole
    assert all(v is None for k, v in jar.items() if "login" in k)  # login cookie cleared
    decision, _ = await world.request("GET", "/app/page", [*NAV, cookie_header(jar)])
    assert decision.principal.subject == "user-1"
    upstream = dict((k.lower(), v) for k, v in decision.upstream_headers)
    assert upstream["x-nmp-principal-email"] == "alice@example.com"
    assert "authorization" not in upstream and "cookie" not in upstream


async def test_upstream_keeps_other_cookies_but_never_the_session(world: World) -> None:
    jar = await login(world)
    name, value = cookie_header(jar)
    decision, _ = await world.request("GET", "/x", [*NAV, (name, value + "; theme=dark")])
    cookies = [v for k, v in decision.upstream_headers if k.lower() == "cookie"]
    assert cookies == ["theme=dark"]


async def test_api_clients_and_never_redirect_paths_keep_the_json_401(world: World) -> None:
    with pytest.raises(MissingToken):
        await world.request("GET", "/app", [("Host", HOST), ("Accept", "application/json")])
    with pytest.raises(MissingToken):
        await world.request("GET", "/api/things", NAV)
    with pytest.raises(MissingToken):
        await world.request("POST", "/app", NAV)
    with pytest.raises(MissingToken):
        await world.request("GET", "/app", [*NAV[:2], ("Sec-Fetch-Mode", "cors")])


async def test_bearer_requests_ignore_the_cookie_and_skip_csrf(world: World, keys: Keys) -> None:
    jar = await login(world)
    token = sign(keys.rsa, claims(sub="bearer-user"))
    decision, _ = await world.request(
        "POST",
        "/x",
        [
            ("Host", HOST),
            ("Authorization", f"Bearer {token}"),
            ("Origin", "https://evil.example"),
            cookie_header(jar),
        ],
    )
    assert decision.principal.subject == "bearer-user"


async def test_cross_site_post_with_the_cookie_is_refused(world: World) -> None:
    jar = await login(world)
    hostile = [("Host", HOST), ("Origin", "https://evil.example"), ("Sec-Fetch-Site", "cross-site")]
    with pytest.raises(Forbidden) as info:
        await world.request("POST", "/x", [*hostile, cookie_header(jar)])
    assert info.value.reason == "csrf"
    same = [("Host", HOST), ("Origin", f"https://{HOST}"), ("Sec-Fetch-Site", "same-origin")]
    decision, _ = await world.request("POST", "/x", [*same, cookie_header(jar)])
    assert decision.principal is not None


async def test_refresh_near_expiry_sets_a_new_cookie(world: World) -> None:
    world.idp.access_lifetime = 30  # within refresh_before (60 s)
    jar = await login(world)
    calls = len(world.idp.calls)
    decision, cred = await world.request("GET", "/x", [*NAV, cookie_header(jar)])
    assert decision.principal is not None
    assert world.idp.calls[calls]["grant_type"] == "refresh_token"
    assert any(k == "Set-Cookie" for k, _ in cred.response_headers)  # sent with the response


async def test_refused_refresh_sends_the_user_to_login(world: World) -> None:
    world.idp.access_lifetime = 30
    jar = await login(world)
    world.idp.refresh_ok = False
    answer = await world.request("GET", "/x", [*NAV, cookie_header(jar)])
    assert answer.status == 302 and header(answer, "Location").startswith(ISSUER)
    cleared = jar_of(answer)
    assert any(k.startswith("__Host-authgate-session") and v is None for k, v in cleared.items())


@pytest.mark.parametrize("damage", ["tamper", "truncate", "drop_chunk", "retired_key"])
async def test_damaged_cookies_redirect_cleanly(world: World, damage: str) -> None:
    jar = await login(world)
    names = sorted(k for k, v in jar.items() if v and "session" in k)
    if damage == "tamper":
        v = jar[names[0]] or ""
        jar[names[0]] = v[:-3] + ("AAA" if not v.endswith("AAA") else "BBB")
    elif damage == "truncate":
        jar[names[-1]] = (jar[names[-1]] or "")[:20]
    elif damage == "drop_chunk" and len(names) > 1:
        jar[names[-1]] = None
    elif damage == "retired_key":
        (world.key_dir / "k2").write_text(generate_key_material())
        (world.key_dir / "current").write_text("k2")
        (world.key_dir / "k1").unlink()
        world.browser.flow.keyring.__self__._checked = -1e18  # type: ignore[attr-defined]
    answer = await world.request("GET", "/x", [*NAV, cookie_header(jar)])
    assert answer.status == 302


async def test_rotation_keeps_old_sessions_during_the_overlap(world: World) -> None:
    jar = await login(world)
    (world.key_dir / "k2").write_text(generate_key_material())
    (world.key_dir / "current").write_text("k2")
    world.browser.flow.keyring.__self__._checked = -1e18  # type: ignore[attr-defined]
    decision, _ = await world.request("GET", "/x", [*NAV, cookie_header(jar)])
    assert decision.principal is not None
    fresh = await login(world)
    assert any(v and v.startswith("k2.") for k, v in fresh.items() if "session" in k)


async def start(world: World) -> tuple[dict[str, str | None], str, str]:
    answer = await world.request("GET", "/start", NAV)
    location = header(answer, "Location")
    return jar_of(answer), location, parse_qs(urlsplit(location).query)["state"][0]


async def callback(world: World, query: str, jar: dict[str, str | None]) -> Any:
    return await world.request("GET", f"/apis/auth/callback?{query}", [*NAV, cookie_header(jar)])


async def test_hostile_callbacks(world: World) -> None:
    jar, location, state = await start(world)
    code = world.idp.authorize(location)
    cases = {
        "missing_state": f"code={code}",
        "unknown_state": f"code={code}&state=not-ours",
        "oversized_parameter": f"code={'A' * 5000}&state={state}",
        "oversized_parameter ": f"code={code}&state={state}&state={state}",
    }
    for expected, query in cases.items():
        answer = await callback(world, query, jar)
        assert answer.status == 400 and expected.strip().encode() in answer.body, expected
    # an IdP error: nothing of error_description is echoed
    answer = await callback(
        world, f"state={state}&error=access_denied&error_description=<script>", jar
    )
    assert (
        answer.status == 403
        and b"idp_access_denied" in answer.body
        and b"<script>" not in answer.body
    )
    # the state is now used: replaying it (even with the cookie) fails
    answer = await callback(world, f"code={code}&state={state}", jar)
    assert answer.status == 400 and b"replayed_state" in answer.body


async def test_wrong_nonce_code_twice_and_wrong_issuer(world: World) -> None:
    jar, location, state = await start(world)
    code = world.idp.authorize(location, nonce="someone-elses-nonce")
    answer = await callback(world, f"code={code}&state={state}", jar)
    assert answer.status == 400 and b"nonce_mismatch" in answer.body

    jar, location, state = await start(world)
    code = world.idp.authorize(location)
    world.idp.used.add(code)  # the code was already redeemed (by an attacker, or a reload)
    answer = await callback(world, f"code={code}&state={state}", jar)
    assert answer.status == 400 and b"code_rejected" in answer.body

    jar, location, state = await start(world)
    code = world.idp.authorize(location)
    answer = await callback(world, f"code={code}&state={state}&iss=https://evil.example", jar)
    assert answer.status == 400 and b"issuer_mismatch" in answer.body


async def test_login_endpoint_validates_the_landing_path(world: World) -> None:
    for rd, expected in [("/ok?a=1", "/ok?a=1"), ("//evil.example", "/"), ("/%5Cevil", "/")]:
        from urllib.parse import quote

        answer = await world.request("GET", f"/apis/auth/login?rd={quote(rd, safe='')}", NAV)
        jar = jar_of(answer)
        location = header(answer, "Location")
        code = world.idp.authorize(location)
        state = parse_qs(urlsplit(location).query)["state"][0]
        back = await callback(world, f"code={code}&state={state}", jar)
        assert header(back, "Location") == expected


async def test_session_and_logout_endpoints(world: World) -> None:
    answer = await world.request("GET", "/apis/auth/session", [("Host", HOST)])
    assert answer.status == 401 and json.loads(answer.body)["authenticated"] is False
    jar = await login(world)
    answer = await world.request("GET", "/apis/auth/session", [("Host", HOST), cookie_header(jar)])
    body = json.loads(answer.body)
    assert answer.status == 200 and body["email"] == "alice@example.com"
    assert "eyJ" not in answer.body.decode()  # no token is ever echoed
    cross = [("Host", HOST), ("Sec-Fetch-Site", "cross-site"), cookie_header(jar)]
    assert (await world.request("POST", "/apis/auth/logout", cross)).status == 403
    out = await world.request("GET", "/apis/auth/logout", [*NAV, cookie_header(jar)])
    assert out.status == 302 and header(out, "Location") == "/"  # the fake IdP has no end_session
    cleared = jar_of(out)
    assert all(v is None for k, v in cleared.items())
    assert any(k.startswith("__Host-authgate-session") for k in cleared)


def test_browser_config_errors_are_all_reported() -> None:
    from authgate.core.config import parse_config
    from authgate.core.errors import ConfigError

    from .core_helpers import base_document

    doc = base_document(
        browser={
            "enabled": True,
            "session_keys_dir": "",
            "scopes": "profile",
            "redirect_url": "http://app.example.com/cb",
            "cookie_domain": "bad domain",
            "never_redirect": ["api/"],
            "trusted_origins": ["evil.example"],
            "login_timeout_seconds": 5,
        }
    )
    with pytest.raises(ConfigError) as info:
        parse_config(doc)
    text = "\n".join(info.value.errors)
    for path in (
        "session_keys_dir",
        "scopes",
        "redirect_url",
        "cookie_domain",
        "never_redirect[0]",
        "trusted_origins[0]",
        "login_timeout_seconds",
    ):
        assert f"browser.{path}" in text, path

"""The browser flow end to end in memory, once logged in: landing on the original
URL, what reaches the upstream, API clients and bearer requests beside the cookie,
CSRF, refresh, damaged cookies and key rotation. The world is in session_world."""

from __future__ import annotations

import pytest

from authgate.core.errors import Forbidden, MissingToken
from authgate.core.session.crypto import generate_key_material

from .core_helpers import ISSUER, Keys, claims, sign
from .session_world import HOST, NAV, World, cookie_header, header, jar_of, login


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

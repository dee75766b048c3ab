"""The browser flow's own endpoints in memory: every hostile callback input (state,
nonce, code, issuer), the login landing path, the session and logout endpoints, and
the browser config errors. The world is in session_world."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest

from .session_world import HOST, NAV, World, callback, cookie_header, header, jar_of, login, start


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

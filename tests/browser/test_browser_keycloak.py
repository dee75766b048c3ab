"""The issue's eight browser scenarios, in Debian's chromium against Keycloak's
real login page, on both engines.

Two sidecars of one platform host (127.0.0.1, two ports: cookies are not
port-scoped, RFC 6265 §8.5) share one session key directory, as every
sidecar of a provider mounts the same Secret.  The upstream records what it
received (``/__seen``), so "identity headers, never the session cookie" is
checked on the service's side.  Screenshots of the login page and the
landing page are kept in build/artifacts/browser/; the time from the first
navigation to the landing page is written to ``timing-<engine>.json``.
"""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest

from authgate.core.session.crypto import (
    Keyring,
    SessionKey,
    generate_key_material,
    load_keyring_dir,
)
from tests.browser.chromium import Browser

# Keycloak starts (and builds the realm) inside the first test: minutes on busy shared cores.
pytestmark = [pytest.mark.integration, pytest.mark.keycloak, pytest.mark.timeout(900)]

SESSION = "authgate-session"  # the dev (http loopback) name; __Host-authgate-session on https


def seen(landing: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{landing}/__seen", timeout=10) as r:
        result: list[dict[str, Any]] = json.loads(r.read())
    return result


def headers_of(entry: dict[str, Any]) -> dict[str, str]:
    return {k.lower(): v for k, v in entry["headers"]}


def login(
    browser: Browser, keycloak: Any, url: str, *, user: str = "alice", shot: str | None = None
) -> None:
    browser.get(url)
    browser.wait_for("input#username")
    if shot:
        browser.screenshot(shot)
    browser.fill_login(user, keycloak.users[user].password)
    browser.wait_for("h1#who")


def access_log(log: str) -> list[dict[str, Any]]:
    entries = []
    for line in log.splitlines():
        if line.startswith("{") and '"logger":"authgate.access"' in line:
            entries.append(json.loads(line))
    return entries


def session_cookie_names(browser: Browser) -> list[str]:
    return sorted(n for n in browser.cookies() if n.startswith(SESSION))


def test_sign_in_sso_refresh_logout(  # scenarios 1-4
    browser: Browser, keycloak: Any, sidecars: Any, landing: str, engine: str, artifacts: Path
) -> None:
    a, b = sidecars(), sidecars()
    user = keycloak.users["alice"]
    target = f"{a.url}/apps/notebook?tab=files&q=a%20b"

    # 1. Keycloak's form; fill it; land on the original URL with its query.
    started = time.perf_counter()
    login(browser, keycloak, target, shot=f"login-page-{engine}")
    elapsed = time.perf_counter() - started
    assert browser.url == target
    assert browser.text().startswith(f"Signed in as {user.email}")
    browser.screenshot(f"landing-page-{engine}")
    (artifacts / f"timing-{engine}.json").write_text(
        json.dumps({"engine": engine, "navigation_to_landing_seconds": round(elapsed, 3)})
    )
    print(f"\n[{engine}] first navigation -> landing page: {elapsed:.2f} s")
    last = headers_of(seen(landing)[-1])
    assert last["x-nmp-principal-email"] == user.email
    assert "platform-admins" in last["x-nmp-principal-groups"].split(",")
    assert "authgate" not in last.get("cookie", "") and "authorization" not in last
    assert session_cookie_names(browser), browser.cookies()
    assert all(
        c["httpOnly"] and c["sameSite"] == "Lax"
        for c in browser.driver.get_cookies()
        if c["name"].startswith(SESSION)
    )
    # Both engines log the login redirect as the 302 they sent, then the callback's 302.
    statuses = [(e["path"], e["status"]) for e in access_log(a.log())]
    assert statuses[:3] == [
        ("/apps/notebook", 302),
        ("/apis/auth/callback", 302),
        ("/apps/notebook", 200),
    ], statuses

    # 2. Reload, and a second service behind another sidecar: no new login.
    browser.driver.refresh()
    browser.wait_for("h1#who")
    browser.get(f"{b.url}/apps/second")
    browser.wait_for("h1#who")
    assert browser.url == f"{b.url}/apps/second"
    assert "signed in" not in b.log()  # sidecar b never ran a callback: it read a's cookie
    assert headers_of(seen(landing)[-1])["x-nmp-principal-email"] == user.email

    # 3. The access token (20 s) nears expiry: the next navigation refreshes it silently.
    before = browser.cookies()
    # fetch() from the page on b's origin (a's port would be a CORS request); same cookie.
    session = json.loads(browser.fetch(f"{b.url}/apis/auth/session")[1])
    wait = session["access_token_expires_at"] - time.time() - 5 + 1
    time.sleep(max(0.0, wait))
    browser.get(f"{a.url}/apps/after-expiry")
    browser.wait_for("h1#who")
    assert browser.url == f"{a.url}/apps/after-expiry"
    assert not browser.on_login_page()
    after = browser.cookies()
    assert {k: v for k, v in after.items() if k.startswith(SESSION)} != {
        k: v for k, v in before.items() if k.startswith(SESSION)
    }
    renewed = json.loads(browser.fetch(f"{a.url}/apis/auth/session")[1])
    assert renewed["access_token_expires_at"] > session["access_token_expires_at"]
    assert a.log().count("signed in") == 1  # no second authorization-code login

    # 4. Logout: RP-initiated logout at Keycloak; the next visit asks for the password again.
    browser.driver.find_element("css selector", "a#logout").click()
    browser.wait_for("input#username")  # Keycloak ended its session: the form, not SSO
    assert not session_cookie_names(browser)
    browser.get(f"{b.url}/apps/second")
    browser.wait_for("input#username")
    assert urlsplit(browser.url).port == keycloak.port


def _sealed(key_dir: Path, session: dict[str, Any], expires_at: float) -> str:
    return load_keyring_dir(str(key_dir)).seal("session", session, expires_at=expires_at)


def test_damaged_cookies_and_rotation(  # scenarios 5 and 8
    browser: Browser, keycloak: Any, sidecars: Any, key_dir: Path, engine: str
) -> None:
    a = sidecars()
    login(browser, keycloak, f"{a.url}/start")
    good = {n: v for n, v in browser.cookies().items() if n.startswith(SESSION)}

    def refused_cleanly(jar: dict[str, str]) -> None:
        for name in session_cookie_names(browser):
            browser.delete_cookie(name)
        for name, value in jar.items():
            browser.set_cookie(name, value)
        status, _ = browser.fetch(f"{a.url}/api/data")  # an API call: JSON 401, never a 500
        assert status == 401
        browser.get(f"{a.url}/apps/x")  # a navigation: back to Keycloak (SSO signs in again)
        browser.wait_for("h1#who")
        assert browser.url == f"{a.url}/apps/x"

    # 5. tampered, truncated, expired, and sealed with a key no sidecar has
    first = sorted(good)[0]
    tampered = dict(good)
    tampered[first] = good[first][:-4] + ("AAAA" if not good[first].endswith("AAAA") else "BBBB")
    refused_cleanly(tampered)
    truncated = {first: good[first][: len(good[first]) // 2]}
    refused_cleanly(truncated)
    payload = {"at": "x", "ate": int(time.time()) + 60, "sub": "alice", "rt": None, "it": None}
    refused_cleanly({SESSION: _sealed(key_dir, payload, time.time() - 1)})
    foreign = Keyring(SessionKey("k1", b"\x07" * 32)).seal(
        "session", payload, expires_at=time.time() + 60
    )
    refused_cleanly({SESSION: foreign})
    assert "Traceback" not in a.log()

    # 8. Rotation: k2 seals, k1 still opens (the overlap); then k1 is retired.
    login_jar = {n: v for n, v in browser.cookies().items() if n.startswith(SESSION)}
    assert all(v.startswith("k1.") for n, v in login_jar.items() if n in (SESSION, f"{SESSION}-0"))
    (key_dir / "k2").write_text(generate_key_material())
    (key_dir / "current").write_text("k2")
    time.sleep(1.5)  # the sidecar re-reads the directory at most once a second
    browser.get(f"{a.url}/apps/overlap")
    browser.wait_for("h1#who")
    assert not browser.on_login_page()
    for name in session_cookie_names(browser):  # a new login seals with k2
        browser.delete_cookie(name)
    browser.get(f"{a.url}/apps/new")
    browser.wait_for("h1#who")
    new_jar = browser.cookies()
    assert (new_jar.get(SESSION) or new_jar.get(f"{SESSION}-0", "")).startswith("k2.")
    (key_dir / "k1").unlink()
    time.sleep(1.5)
    refused_cleanly(login_jar)  # the k1 session is refused cleanly, never a 500


REDIRECT_VARIANTS = [
    "//evil.example/",
    "/\\evil.example/",
    "/%2F%2Fevil.example/",
    "/%2f%2fevil.example/",
    "/%5Cevil.example/",
    "/%09/evil.example/",
    "/%0A/evil.example",
    "/ /evil.example",
    "https://evil.example/",
    "javascript:alert(1)",
    "/%252F%252Fevil.example/",
    "%2F%2Fevil.example",
    "/%E2%80%8B/evil.example",
    "/a/..//evil.example",
]


def test_open_redirect_variants_are_refused(  # scenario 6
    browser: Browser, keycloak: Any, sidecars: Any
) -> None:
    a = sidecars()
    login(browser, keycloak, f"{a.url}/home")
    for variant in REDIRECT_VARIANTS:
        browser.get(f"{a.url}/apis/auth/login?rd={quote(variant, safe='')}")
        browser.wait_for("h1#who")
        landed = urlsplit(browser.url)
        assert (landed.hostname, landed.port, landed.path) == ("127.0.0.1", a.port, "/"), variant
    browser.get(f"{a.url}/apis/auth/login?rd={quote('/ok/page?x=1', safe='')}")
    browser.wait_for("h1#who")
    assert browser.url == f"{a.url}/ok/page?x=1"


def test_cross_site_form_post_is_refused(  # scenario 7
    browser: Browser, keycloak: Any, sidecars: Any, landing: str
) -> None:
    a = sidecars()
    login(browser, keycloak, f"{a.url}/home")
    posts_before = sum(1 for e in seen(landing) if e["method"] == "POST")
    # Same site (127.0.0.1, another port): the Lax cookie *is* sent; the CSRF check refuses.
    browser.get(f"{landing}/__evil?target={quote(a.url + '/apps/transfer', safe='')}")
    time.sleep(1.0)
    assert "csrf" in browser.text()
    # Cross site (localhost): SameSite=Lax keeps the cookie home; the POST is unauthenticated.
    evil = landing.replace("127.0.0.1", "localhost")
    browser.get(f"{evil}/__evil?target={quote(a.url + '/apps/transfer', safe='')}")
    time.sleep(1.0)
    assert "unauthorized" in browser.text() or "missing_token" in browser.text()
    assert sum(1 for e in seen(landing) if e["method"] == "POST") == posts_before
    # The same POST from the platform's own page goes through.
    browser.get(f"{a.url}/home")
    browser.wait_for("h1#who")
    status, _ = browser.fetch(f"{a.url}/apps/transfer", method="POST")
    assert status == 200

"""Hostile input to ``/apis/auth/callback``, against the real Keycloak (its
login form filled over HTTP by testenv's LoginDriver), on both engines:
missing, unknown and replayed ``state``; a wrong ``nonce``; a code used
twice (on the same sidecar and on another); a wrong PKCE verifier; an error
from the IdP; an oversized parameter.  Every one is a clean 4xx page that
echoes nothing it was sent.  Also the confidential client (secret from a
mounted file) signing in end to end."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest

from authgate.core.session.crypto import load_keyring_dir

# Keycloak starts (and builds the realm) inside the first test: minutes on busy shared cores.
pytestmark = [pytest.mark.integration, pytest.mark.keycloak, pytest.mark.timeout(900)]

HTML = {"Accept": "text/html"}


def set_cookies(response: httpx.Response) -> dict[str, str | None]:
    jar: dict[str, str | None] = {}
    for value in response.headers.get_list("set-cookie"):
        name, _, rest = value.partition("=")
        jar[name] = None if "Max-Age=0" in value else rest.split(";", 1)[0]
    return jar


def cookie(jar: dict[str, str | None]) -> dict[str, str]:
    return {"Cookie": "; ".join(f"{k}={v}" for k, v in jar.items() if v is not None)}


def begin(client: httpx.Client, url: str) -> tuple[dict[str, str | None], str, str]:
    r = client.get(url, headers=HTML)
    assert r.status_code == 302, r.text
    location = r.headers["location"]
    return set_cookies(r), location, parse_qs(urlsplit(location).query)["state"][0]


def code_from(keycloak: Any, authorization_url: str) -> str:
    redirect = keycloak.complete_browser_login(authorization_url, "alice")
    return parse_qs(urlsplit(redirect).query)["code"][0]


def reseal_login(
    key_dir: Path, jar: dict[str, str | None], **changes: str
) -> dict[str, str | None]:
    ring = load_keyring_dir(str(key_dir))
    name = next(k for k in jar if "login" in k)
    login = ring.open("login", jar[name] or "")
    exp = login.pop("exp")
    login.update(changes)
    return {name: ring.seal("login", login, expires_at=exp)}


def refused(r: httpx.Response, status: int, reason: str, *, not_echoed: str = "") -> None:
    assert r.status_code == status, r.text
    assert f"reason: {reason}" in r.text, r.text
    assert r.headers["content-security-policy"] == "default-src 'none'"
    if not_echoed:
        assert not_echoed not in r.text


def test_hostile_callbacks(keycloak: Any, sidecars: Any, key_dir: Path) -> None:
    a, b = sidecars(), sidecars()
    cb = f"{a.url}/apis/auth/callback"
    with httpx.Client(timeout=30) as client:
        jar, location, state = begin(client, f"{a.url}/apps/x?y=1")
        refused(client.get(f"{cb}?code=abc", headers=cookie(jar)), 400, "missing_state")
        refused(
            client.get(f"{cb}?code=abc&state=forged", headers=cookie(jar)), 400, "unknown_state"
        )
        refused(
            client.get(f"{cb}?code={'A' * 5000}&state={state}", headers=cookie(jar)),
            400,
            "oversized_parameter",
        )
        refused(
            client.get(f"{cb}?code=a&code=b&state={state}", headers=cookie(jar)),
            400,
            "oversized_parameter",
        )  # a repeated parameter is refused the same way
        script = quote("<script>alert(1)</script>")
        r = client.get(
            f"{cb}?error=access_denied&error_description={script}&state={state}",
            headers=cookie(jar),
        )
        refused(r, 403, "idp_access_denied", not_echoed="<script>")
        # that state is spent now, even with its cookie
        refused(
            client.get(f"{cb}?code=abc&state={state}", headers=cookie(jar)), 400, "replayed_state"
        )

        # wrong nonce: a login cookie (validly sealed) whose nonce is not the ID token's
        jar, location, state = begin(client, f"{a.url}/apps/x")
        code = code_from(keycloak, location)
        forged = reseal_login(key_dir, jar, n="not-the-nonce-keycloak-saw")
        refused(
            client.get(f"{cb}?code={code}&state={state}", headers=cookie(forged)),
            400,
            "nonce_mismatch",
        )

        # wrong PKCE verifier: Keycloak refuses the code (RFC 7636 §4.6)
        jar, location, state = begin(client, f"{a.url}/apps/x")
        code = code_from(keycloak, location)
        forged = reseal_login(key_dir, jar, v="x" * 64)
        refused(
            client.get(f"{cb}?code={code}&state={state}", headers=cookie(forged)),
            400,
            "code_rejected",
        )

        # a code used twice: first on a (works), then on a again and on b
        jar, location, state = begin(client, f"{a.url}/apps/x?y=1")
        code = code_from(keycloak, location)
        first = client.get(f"{cb}?code={code}&state={state}", headers=cookie(jar))
        assert first.status_code == 302 and first.headers["location"] == "/apps/x?y=1"
        refused(
            client.get(f"{cb}?code={code}&state={state}", headers=cookie(jar)),
            400,
            "replayed_state",
        )
        other = f"{b.url}/apis/auth/callback?code={code}&state={state}"
        refused(client.get(other, headers=cookie(jar)), 400, "code_rejected")
    for proxy in (a, b):
        assert "Traceback" not in proxy.log()
        assert code not in proxy.log()  # the code is never logged


def test_confidential_client_signs_in(keycloak: Any, sidecars: Any, tmp_path: Path) -> None:
    secret = tmp_path / "client-secret"
    secret.write_text(keycloak.web_client_secret)
    a = sidecars(browser={"client_id": keycloak.web_client_id, "client_secret_file": str(secret)})
    with httpx.Client(timeout=30) as client:
        jar, location, state = begin(client, f"{a.url}/apps/conf")
        code = code_from(keycloak, location)
        back = client.get(
            f"{a.url}/apis/auth/callback?code={code}&state={state}", headers=cookie(jar)
        )
        assert back.status_code == 302, back.text
        jar.update(set_cookies(back))
        page = client.get(f"{a.url}/apps/conf", headers={**HTML, **cookie(jar)})
        assert page.status_code == 200
        assert "alice@example.com" in page.text
        session = client.get(f"{a.url}/apis/auth/session", headers=cookie(jar)).json()
        assert session["authenticated"] and session["email"] == "alice@example.com"
    assert keycloak.web_client_secret not in a.log()

"""A real Keycloak 26 server for the tests: HTTPS on loopback, the `authgate` realm.

Started from the distribution `make testenv` unpacked and pre-built
(`kc.sh build`), so `start --optimized` skips the build step. Each session
gets its own home: a hard-linked copy of the cached distribution (instant,
no extra disk) whose fresh `data/` holds the dev-file H2 database, so
parallel sessions never share a database or transaction log. The realm is
created over the admin REST API once; `stop()`/`start()` restart the same
server on the same port with the same database (for IdP-outage tests).

Key rotation policy (`rotate_keys`): a new `rsa-generated` provider is added
with a higher priority than every existing one, so it signs from then on;
the previous signing providers are set `active=false`, which makes their
keys *passive*: no longer used to sign, still published in the JWKS so
tokens issued before the rotation verify until they expire. `disable_key`
removes a key from the JWKS entirely.
"""

from __future__ import annotations

import os
import secrets
import shutil
import ssl
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx

from ..support.ports import free_port
from . import realm
from .browser import LoginDriver, device_login_finished, redirected_to
from .ca import TestCA
from .components import setting
from .errors import ComponentMissing, TestEnvError
from .process import ManagedProcess
from .realm import KeycloakUser

ADMIN_USER = "authgate-admin"
HEAP = os.environ.get("AUTHGATE_KEYCLOAK_HEAP", "-Xms128m -Xmx768m")
# C1-only JIT: on 2 busy cores this halves start-up (measured 75 s vs 125-155 s);
# the tests need a quick start, not peak throughput.
JAVA_OPTS = os.environ.get(
    "AUTHGATE_KEYCLOAK_JAVA_OPTS", "-XX:TieredStopAtLevel=1 -XX:CICompilerCount=1"
)
KEY_PROVIDER = "org.keycloak.keys.KeyProvider"


def keycloak_home() -> Path:
    value = setting("AUTHGATE_KEYCLOAK_HOME")
    if not value or not (Path(value) / "bin" / "kc.sh").is_file():
        raise ComponentMissing(
            f"Keycloak not found (AUTHGATE_KEYCLOAK_HOME={value!r}); run `make testenv`"
        )
    return Path(value)


def _per_run_home(source: Path, target: Path) -> None:
    """Hard-link copy of the built distribution (falls back to a real copy)."""
    if target.exists():
        return
    result = subprocess.run(["cp", "-al", str(source), str(target)], capture_output=True)
    if result.returncode != 0:
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(source, target, symlinks=True)
    shutil.rmtree(target / "data", ignore_errors=True)


class KeycloakEnv:
    """A running Keycloak with the `authgate` realm; see the module doc."""

    cli_client_id = realm.CLI_CLIENT_ID
    web_client_id = realm.WEB_CLIENT_ID
    audience = realm.AUDIENCE
    realm_name = realm.REALM

    def __init__(self, directory: Path, ca: TestCA, host: str = "127.0.0.1") -> None:
        """``host``: the one address Keycloak binds and names itself by (the one-node
        cluster's pods cannot reach loopback, so its Keycloak sits on the cluster bridge)."""
        self.directory = directory
        self.host = host
        self.source_home = keycloak_home()
        self.home = directory / "keycloak-home"
        self.port = free_port()
        self.management_port = free_port()
        self.base_url = f"https://{host}:{self.port}"
        self.issuer = f"{self.base_url}/realms/{realm.REALM}"
        self.ca_file = ca.cert_file
        names = sorted({host, "127.0.0.1", "localhost"})
        self.cert_file, self.key_file = ca.issue(names, "keycloak")
        self.web_client_secret = realm.web_client_secret()
        self.ci_client_id = realm.CI_CLIENT_ID  # client credentials (workload identity)
        self.ci_client_secret = realm.web_client_secret()
        self.users: dict[str, KeycloakUser] = dict(realm.USERS)
        self._admin_password = secrets.token_urlsafe(18)
        self.process: ManagedProcess | None = None
        # Generous: realm creation takes over 30 s on a loaded 2-core machine.
        self._http = httpx.Client(verify=self.ssl_context(), timeout=120)

    def ssl_context(self) -> ssl.SSLContext:
        """A client TLS context trusting only the test CA (pass as httpx `verify=`)."""
        return ssl.create_default_context(cafile=str(self.ca_file))

    # -- lifecycle -------------------------------------------------------
    def start(self, timeout: float = 480.0) -> None:  # 240 s was not enough on busy cores
        """Start (or restart) the server on the same port; create the realm once."""
        if self.process is not None and self.process.alive():
            return
        _per_run_home(self.source_home, self.home)
        env = {
            **os.environ,
            "KC_BOOTSTRAP_ADMIN_USERNAME": ADMIN_USER,
            "KC_BOOTSTRAP_ADMIN_PASSWORD": self._admin_password,
            "JAVA_OPTS_KC_HEAP": HEAP,
            "JAVA_OPTS_APPEND": JAVA_OPTS,
        }
        self.process = ManagedProcess(
            "keycloak",
            [
                str(self.home / "bin" / "kc.sh"),
                "start",
                "--optimized",
                "--http-enabled=false",
                f"--http-host={self.host}",
                f"--https-port={self.port}",
                f"--https-certificate-file={self.cert_file}",
                f"--https-certificate-key-file={self.key_file}",
                f"--hostname={self.base_url}",
                f"--http-management-port={self.management_port}",
                # No JGroups cluster transport: it would bind and ping a non-loopback address.
                "--cache=local",
                "--log-level=info",
            ],
            self.directory / "keycloak.log",
            env=env,
        )
        self.process.start()
        self.process.wait_ready(self._ready, timeout=timeout, what="ready /health/ready")
        self._ensure_realm()

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop(timeout=30)
            self.process = None

    def close(self) -> None:
        self.stop()
        self._http.close()

    def log_files(self) -> list[Path]:
        return [self.directory / "keycloak.log"]

    def _ready(self) -> bool:
        url = f"https://{self.host}:{self.management_port}/health/ready"
        return self._http.get(url).status_code == 200

    # -- admin REST API --------------------------------------------------
    def admin_token(self) -> str:
        """An access token of the master realm's bootstrap admin (admin REST API)."""
        response = self._http.post(
            f"{self.base_url}/realms/master/protocol/openid-connect/token",
            data={
                "grant_type": "password",
                "client_id": "admin-cli",
                "username": ADMIN_USER,
                "password": self._admin_password,
            },
        )
        _check(response, "admin token")
        return str(response.json()["access_token"])

    def admin(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Call `/admin/realms/<path>` with an admin token; raise on non-2xx."""
        headers = {"Authorization": f"Bearer {self.admin_token()}"}
        response = self._http.request(
            method, f"{self.base_url}/admin/realms{path}", headers=headers, **kwargs
        )
        _check(response, f"{method} /admin/realms{path}")
        return response

    def _ensure_realm(self) -> None:
        headers = {"Authorization": f"Bearer {self.admin_token()}"}
        found = self._http.get(f"{self.base_url}/admin/realms/{realm.REALM}", headers=headers)
        if found.status_code == 200:
            return
        self.admin(
            "POST",
            "",
            json=realm.realm_representation(self.web_client_secret, self.ci_client_secret),
        )
        base = f"/{realm.REALM}"
        for name in realm.SCOPES:
            scope = realm.client_scope_representation(name)
            self.admin("POST", f"{base}/client-scopes", json=scope)
        scope_ids = {s["name"]: s["id"] for s in self.admin("GET", f"{base}/client-scopes").json()}
        for client_id in (
            self.cli_client_id,
            self.web_client_id,
            self.ci_client_id,
            realm.BROWSER_CLIENT_ID,
        ):
            internal = self._client_uuid(client_id)
            for name in realm.SCOPES:
                self.admin(
                    "PUT", f"{base}/clients/{internal}/optional-client-scopes/{scope_ids[name]}"
                )

    def rotate_client_secret(self, client_id: str) -> str:
        """Regenerate a confidential client's secret (the old one stops working at once)."""
        internal = self._client_uuid(client_id)
        answer = self.admin("POST", f"/{realm.REALM}/clients/{internal}/client-secret").json()
        secret = str(answer["value"])
        if client_id == self.ci_client_id:
            self.ci_client_secret = secret
        return secret

    def _client_uuid(self, client_id: str) -> str:
        found = self.admin("GET", f"/{realm.REALM}/clients", params={"clientId": client_id})
        return str(found.json()[0]["id"])

    # -- tokens ----------------------------------------------------------
    @property
    def token_endpoint(self) -> str:
        return f"{self.issuer}/protocol/openid-connect/token"

    @property
    def device_endpoint(self) -> str:
        return f"{self.issuer}/protocol/openid-connect/auth/device"

    @property
    def authorization_endpoint(self) -> str:
        return f"{self.issuer}/protocol/openid-connect/auth"

    def password_token(
        self, username: str, scope: str = "openid platform:read platform:write"
    ) -> dict[str, Any]:
        """A token response (access, id, refresh) for `username` by the password grant."""
        response = self._http.post(
            self.token_endpoint,
            data={
                "grant_type": "password",
                "client_id": self.cli_client_id,
                "username": username,
                "password": self.users[username].password,
                "scope": scope,
            },
        )
        _check(response, f"password grant for {username}")
        return dict(response.json())

    def complete_device_login(self, verification_uri_complete: str, username: str) -> None:
        """Approve a device authorization (RFC 8628) by filling Keycloak's pages as `username`."""
        driver = LoginDriver(self.ca_file, username, self.users[username].password)
        try:
            driver.run(verification_uri_complete, device_login_finished)
        finally:
            driver.close()

    def complete_browser_login(self, authorization_url: str, username: str) -> str:
        """Log in at an authorization URL; return the redirect Location (with `code`).

        The redirect itself is not followed, so the caller decides whether to
        deliver it to a loopback listener (as the browser would) or parse it.
        """
        driver = LoginDriver(self.ca_file, username, self.users[username].password)
        try:
            redirect = dict(httpx.QueryParams(authorization_url.split("?", 1)[1])).get(
                "redirect_uri", "http"
            )
            response = driver.run(authorization_url, redirected_to(redirect))
            return str(response.headers["location"])
        finally:
            driver.close()

    # -- signing keys ----------------------------------------------------
    def _signing_keys(self) -> list[dict[str, Any]]:
        keys = self.admin("GET", f"/{realm.REALM}/keys").json()["keys"]
        return [k for k in keys if k.get("use") == "SIG" and k.get("algorithm") == "RS256"]

    def active_kid(self) -> str:
        active = [k for k in self._signing_keys() if k.get("status") == "ACTIVE"]
        active.sort(key=lambda k: int(k.get("providerPriority", 0)), reverse=True)
        return str(active[0]["kid"])

    def rotate_keys(self) -> str:
        """Add a higher-priority RSA key provider, make the old ones passive; return the new kid."""
        realm_id = self.admin("GET", f"/{realm.REALM}").json()["id"]
        components = self.admin(
            "GET", f"/{realm.REALM}/components", params={"type": KEY_PROVIDER}
        ).json()
        signing = [
            c
            for c in components
            if c.get("providerId") == "rsa-generated"
            and c.get("config", {}).get("algorithm", ["RS256"]) == ["RS256"]
        ]
        top = max((int(c["config"].get("priority", ["0"])[0]) for c in signing), default=100)
        name = f"rsa-rotated-{int(time.time() * 1000)}"
        self.admin(
            "POST",
            f"/{realm.REALM}/components",
            json={
                "name": name,
                "providerId": "rsa-generated",
                "providerType": KEY_PROVIDER,
                "parentId": realm_id,
                "config": {
                    "priority": [str(top + 100)],
                    "enabled": ["true"],
                    "active": ["true"],
                    "algorithm": ["RS256"],
                    "keySize": ["2048"],
                },
            },
        )
        for component in signing:
            component["config"]["active"] = ["false"]
            self.admin("PUT", f"/{realm.REALM}/components/{component['id']}", json=component)
        new = [
            k
            for k in self._signing_keys()
            if k.get("providerId") in {c["id"] for c in self._components_named(name)}
        ]
        if not new:
            raise TestEnvError("rotated key provider has no RS256 key")
        return str(new[0]["kid"])

    def _components_named(self, name: str) -> list[dict[str, Any]]:
        components = self.admin(
            "GET", f"/{realm.REALM}/components", params={"type": KEY_PROVIDER, "name": name}
        ).json()
        return [c for c in components if c.get("name") == name]

    def disable_key(self, kid: str) -> None:
        """Remove the provider of `kid` from the JWKS entirely (enabled=false)."""
        provider = next(k["providerId"] for k in self._signing_keys() if k["kid"] == kid)
        component = self.admin("GET", f"/{realm.REALM}/components/{provider}").json()
        component["config"]["enabled"] = ["false"]
        self.admin("PUT", f"/{realm.REALM}/components/{provider}", json=component)


def _check(response: httpx.Response, what: str) -> None:
    if response.is_success:
        return
    try:
        body = response.json()
        detail = body.get("error_description") or body.get("error") or body.get("errorMessage")
    except ValueError:
        detail = response.text[:200]
    raise TestEnvError(f"Keycloak {what}: HTTP {response.status_code}: {detail}")

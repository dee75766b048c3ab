"""The authgate proxy accepts a token Keycloak issued through a device flow.

Uses only public contracts: the ProxyConfig document (proxy/example-config.yaml)
and the `authgate proxy` command. The upstream echoes the headers it got.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import httpx
import pytest
import yaml

from tests.support.device_flow import poll_device_token
from tests.support.ports import free_port
from tests.testenv.process import ManagedProcess

pytestmark = [pytest.mark.keycloak, pytest.mark.integration]

ECHO_UPSTREAM = """
import json, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
class Echo(BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({k.lower(): v for k, v in self.headers.items()}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
HTTPServer(("127.0.0.1", int(sys.argv[1])), Echo).serve_forever()
"""


def _device_token(keycloak, username: str) -> str:
    http = httpx.Client(verify=keycloak.ssl_context(), timeout=10)
    start = http.post(
        keycloak.device_endpoint,
        data={"client_id": keycloak.cli_client_id, "scope": "openid platform:read"},
    ).json()
    keycloak.complete_device_login(start["verification_uri_complete"], username)
    token = poll_device_token(http, keycloak.token_endpoint, keycloak.cli_client_id, start)
    if token is None:
        raise AssertionError("device flow did not complete")
    return token


def _wait(url: str, proc: ManagedProcess) -> None:
    proc.wait_ready(lambda: httpx.get(url, timeout=2).status_code == 200, 60, f"200 from {url}")


def test_proxy_accepts_device_flow_token(keycloak, tmp_path: Path) -> None:
    upstream_port, port, admin_port = free_port(), free_port(), free_port()
    upstream = ManagedProcess(
        "echo-upstream",
        [sys.executable, "-c", ECHO_UPSTREAM, str(upstream_port)],
        tmp_path / "upstream.log",
    )
    config = {
        "apiVersion": "authgate.io/v1alpha1",
        "kind": "ProxyConfig",
        "listen": {"host": "127.0.0.1", "port": port},
        "admin": {"host": "127.0.0.1", "port": admin_port},
        "upstream": {"url": f"http://127.0.0.1:{upstream_port}"},
        "oidc": {
            "issuer": keycloak.issuer,
            "client_id": keycloak.cli_client_id,
            "audience": [keycloak.audience],
        },
        "keys": {"ca_file": str(keycloak.ca_file)},
    }
    (tmp_path / "proxy.yaml").write_text(yaml.safe_dump(config))
    proxy = ManagedProcess(
        "authgate-proxy",
        [sys.executable, "-m", "authgate", "proxy", "--config", str(tmp_path / "proxy.yaml")],
        tmp_path / "proxy.log",
    )
    upstream.start()
    proxy.start()
    try:
        _wait(f"http://127.0.0.1:{upstream_port}/", upstream)
        _wait(f"http://127.0.0.1:{admin_port}/readyz", proxy)
        token = _device_token(keycloak, "bob")
        url = f"http://127.0.0.1:{port}/apis/things"
        assert httpx.get(url, timeout=10).status_code == 401
        response = httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert response.status_code == 200, proxy.log_tail()
        seen = response.json()
        assert seen["x-nmp-principal-email"] == "bob@example.com"
        assert "platform:read" in seen["x-nmp-scopes"].replace(",", " ").split()
        assert "authorization" not in seen
        assert token not in json.dumps(seen)
    finally:
        proxy.stop()
        upstream.stop()

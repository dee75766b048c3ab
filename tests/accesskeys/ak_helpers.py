"""Helpers for the access-key tests on real parts: the operator (a real process
on the real kube-apiserver), Keycloak users as creators, and sidecars started
from the very ConfigMap the operator rendered."""

from __future__ import annotations

import base64
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import yaml
from kubernetes import client

from tests.operator.operator_helpers import OperatorProcess, Providers, eventually, keycloak_spec
from tests.proxy.proxy_harness import ServerProcess, free_port, wait_for

__all__ = [
    "AccessKeyApi",
    "OperatorProcess",
    "Providers",
    "Sidecar",
    "eventually",
    "keycloak_spec",
    "provider_spec",
]

API = "/apis/auth/v2/access-keys"


def provider_spec(keycloak: Any, **access_keys: Any) -> dict[str, Any]:
    """A Keycloak provider with access keys on (alice's group is the admin group)."""
    return keycloak_spec(
        keycloak,
        tuning={"leewaySeconds": 0},
        accessKeys={
            "enabled": True,
            "adminGroups": ["platform-admins"],
            "revocationPollSeconds": 1,
            **access_keys,
        },
    )


class AccessKeyApi:
    """The operator's API as a caller sees it."""

    def __init__(self, operator: OperatorProcess, provider: str | None = None) -> None:
        self.base = operator.base_url
        self.params = {"provider": provider} if provider else {}

    def call(
        self,
        method: str,
        path: str = "",
        token: str | None = None,
        *,
        body: Any = None,
        raw: bytes | None = None,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        hdrs = dict(headers or {})
        if token is not None:
            hdrs["Authorization"] = f"Bearer {token}"
        kwargs: dict[str, Any] = {}
        if raw is not None:
            kwargs["content"] = raw
            hdrs.setdefault("Content-Type", "application/json")
        elif body is not None:
            kwargs["json"] = body
        return httpx.request(
            method,
            f"{self.base}{API}{path}",
            headers=hdrs,
            params={**self.params, **(params or {})},
            timeout=15,
            **kwargs,
        )

    def create(self, token: str, **body: Any) -> dict[str, Any]:
        rsp = self.call("POST", token=token, body={"name": "ci", **body})
        assert rsp.status_code == 201, rsp.text
        return dict(rsp.json())

    def ready(self, token: str) -> bool:
        return self.call("GET", token=token).status_code == 200


def user_token(keycloak: Any, user: str) -> str:
    return str(keycloak.password_token(user)["access_token"])


def signing_secret(kube: Any, namespace: str, provider: str) -> list[dict[str, Any]]:
    core = client.CoreV1Api(kube.api_client())
    secret = core.read_namespaced_secret(f"authgate-accesskeys-{provider}", namespace)
    return list(json.loads(base64.b64decode(secret.data["keys.json"])))


class Sidecar:
    """``authgate proxy`` with the provider's rendered ConfigMap, as the webhook would
    mount it, in front of the demo echo service; ``engine`` picks the data path."""

    def __init__(
        self, providers: Providers, name: str, workdir: Path, upstream: str, engine: str
    ) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        cm = eventually(lambda: providers.configmap(name), what=f"ConfigMap of {name}")
        data = cm["data"]
        config = yaml.safe_load(data["config.yaml"])
        (workdir / "ca.crt").write_text(data.get("ca.crt", ""))
        self.port, self.admin_port = free_port(), free_port()
        config["listen"] = {"host": "127.0.0.1", "port": self.port}
        config["admin"] = {"host": "127.0.0.1", "port": self.admin_port}
        config["upstream"] = {"url": upstream}
        config.setdefault("server", {})["engine"] = engine
        if data.get("ca.crt"):
            config.setdefault("keys", {})["ca_file"] = str(workdir / "ca.crt")
        self.config = config
        (workdir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        env = {k: v for k, v in os.environ.items() if not k.startswith("AUTHGATE__")}
        self.process = ServerProcess(
            [sys.executable, "-m", "authgate", "proxy", "--config", str(workdir / "config.yaml")],
            workdir / "proxy.log",
            env=env,
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Sidecar:
        self.process.start()
        wait_for(f"http://127.0.0.1:{self.admin_port}/readyz", timeout=60, proc=self.process.proc)
        return self

    def get(self, token: str, path: str = "/hello") -> httpx.Response:
        return httpx.get(self.url + path, headers={"Authorization": f"Bearer {token}"}, timeout=10)

    def status(self, token: str) -> int:
        return self.get(token).status_code

    def reason(self, token: str) -> str:
        try:
            return str(self.get(token).json().get("reason"))
        except ValueError:
            return "?"

    def stop(self) -> None:
        self.process.stop()

    def log(self) -> str:
        return self.process.log()[-6000:]


def wait_status(fn: Callable[[], int], wanted: int, timeout: float) -> float:
    """Seconds until ``fn()`` returns ``wanted`` (AssertionError after ``timeout``)."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if fn() == wanted:
            return time.monotonic() - start
        time.sleep(0.05)
    raise AssertionError(f"status {wanted} not reached within {timeout}s")

"""Helpers for the operator's integration tests: the real API server (``kube``), real
Keycloak (``keycloak``) and the operator as a real subprocess (``python -m authgate operator``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from kubernetes import client

from tests.support.idp import LocalIdP, serve_idp
from tests.support.polling import eventually
from tests.support.ports import free_port
from tests.testenv.process import tail

GROUP, VERSION, PLURAL = "authgate.io", "v1alpha1", "oidcproviders"


class OperatorProcess:
    """``python -m authgate operator`` as a child process with its own log file."""

    def __init__(
        self,
        kube: Any,
        namespace: str,
        log_dir: Path,
        *,
        peering: bool = False,
        webhook_name: str | None = None,
        register_webhook: bool = True,
    ) -> None:
        self.kube = kube
        self.namespace = namespace
        self.discovery_port = free_port()
        self.webhook_port = free_port()
        self.webhook_name = webhook_name or f"authgate-test-{uuid.uuid4().hex[:8]}"
        self.log_file = log_dir / f"operator-{self.discovery_port}.log"
        self.cert_dir = log_dir / f"certs-{self.webhook_port}"
        self.argv = [
            sys.executable,
            "-m",
            "authgate",
            "operator",
            "--namespace",
            namespace,
            "--discovery-address",
            "127.0.0.1",
            "--discovery-port",
            str(self.discovery_port),
            "--webhook-address",
            "127.0.0.1",
            "--webhook-port",
            str(self.webhook_port),
            "--webhook-host",
            "127.0.0.1",
            "--webhook-name",
            self.webhook_name,
            "--cert-dir",
            str(self.cert_dir),
            "--sidecar-image",
            "authgate:test",
            "--recheck-interval",
            "3",
            "--fetch-timeout",
            "3",
        ]
        if register_webhook:
            self.argv.append("--register-webhook")
        if not peering:
            self.argv.append("--standalone")
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.discovery_port}"

    def start(self) -> OperatorProcess:
        env = {**os.environ, "KUBECONFIG": str(self.kube.kubeconfig)}
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            self.proc = subprocess.Popen(
                self.argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
            )
        eventually(self._ready, timeout=60, what=f"operator ready (log {self.log_file})")
        return self

    def _ready(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise pytest.fail(f"operator exited {self.proc.returncode}:\n{self.log()}")
        return httpx.get(f"{self.base_url}/readyz", timeout=2).status_code == 200

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log(self) -> str:
        return tail(self.log_file, 120)

    def discovery(self, provider: str | None = None) -> httpx.Response:
        params = {"provider": provider} if provider else None
        return httpx.get(f"{self.base_url}/apis/auth/discovery", params=params, timeout=5)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


class OperatorFleet:
    """The operators one test starts (``OperatorProcess(kube, namespace, log_dir,
    **defaults, **kwargs)``), all stopped at teardown, their logs printed when the test
    failed (``rep_call``, set by the suite's ``pytest_runtest_makereport``).  The
    operator and fault suites' fixtures share this bookkeeping."""

    def __init__(
        self,
        kube: Any,
        log_dir: Path,
        request: pytest.FixtureRequest,
        log_chars: int | None = None,
        **defaults: Any,
    ) -> None:
        self.kube, self.log_dir, self.request = kube, log_dir, request
        self.log_chars = log_chars  # None: the whole log
        self.defaults = defaults
        self.started: list[OperatorProcess] = []

    def __call__(self, namespace: str, **kwargs: Any) -> OperatorProcess:
        op = OperatorProcess(self.kube, namespace, self.log_dir, **{**self.defaults, **kwargs})
        self.started.append(op)
        return op.start()

    def stop(self) -> None:
        rep = getattr(self.request.node, "rep_call", None)
        for op in self.started:
            op.stop()
            if rep is not None and rep.failed:
                text = op.log() if self.log_chars is None else op.log()[-self.log_chars :]
                print(f"--- operator log {op.log_file}\n{text}")


class Providers:
    """CRUD of OIDCProviders through the real API server."""

    def __init__(self, kube: Any, namespace: str) -> None:
        self.api = client.CustomObjectsApi(kube.api_client())
        self.core = client.CoreV1Api(kube.api_client())
        self.namespace = namespace

    def create(self, name: str, spec: dict[str, Any]) -> dict[str, Any]:
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "OIDCProvider",
            "metadata": {"name": name},
            "spec": spec,
        }
        return dict(
            self.api.create_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURAL, body)
        )

    def get(self, name: str) -> dict[str, Any] | None:
        try:
            return dict(
                self.api.get_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURAL, name)
            )
        except client.ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def patch(self, name: str, spec: dict[str, Any]) -> None:
        self.api.patch_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURAL, name, {"spec": spec}
        )

    def delete(self, name: str) -> None:
        self.api.delete_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURAL, name)

    def condition(self, name: str, type_: str = "Ready") -> dict[str, Any] | None:
        obj = self.get(name) or {}
        for cond in (obj.get("status") or {}).get("conditions") or []:
            if cond["type"] == type_:
                return dict(cond)
        return None

    def wait_ready(
        self,
        name: str,
        status: str = "True",
        reason: str | None = None,
        timeout: float = 60,
        generation: int = 1,
    ) -> dict[str, Any]:
        """Wait for Ready=status (and reason) observed at ``generation`` or later."""

        def check() -> dict[str, Any] | None:
            cond = self.condition(name)
            if (
                cond
                and cond["status"] == status
                and (reason is None or cond["reason"] == reason)
                and cond.get("observedGeneration", 0) >= generation
            ):
                return cond
            return None

        return eventually(
            check,
            timeout=timeout,
            what=f"{name} Ready={status} reason={reason}; now {self.condition(name)}",
        )

    def configmap(self, name: str) -> dict[str, Any] | None:
        try:
            cm = self.core.read_namespaced_config_map(f"authgate-{name}", self.namespace)
        except client.ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return dict(client.ApiClient().sanitize_for_serialization(cm))


def keycloak_spec(keycloak: Any, **extra: Any) -> dict[str, Any]:
    return {
        "issuer": keycloak.issuer,
        "clientId": keycloak.cli_client_id,
        "audience": [keycloak.audience],
        "caBundle": Path(keycloak.ca_file).read_text(),
        **extra,
    }


@contextmanager
def no_keys_idp() -> Iterator[LocalIdP]:
    """The shared loopback IdP (issuer: its origin) publishing an empty JWKS, for the
    failure modes a real Keycloak will not produce: set ``jwks`` to publish keys,
    ``discovery`` for an issuer mismatch."""
    with serve_idp(realm="", jwks={"keys": []}) as idp:
        yield idp

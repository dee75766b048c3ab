"""An envtest-style Kubernetes control plane: etcd + kube-apiserver, nothing else.

There is no controller-manager or scheduler, so Pods never run and namespaces
never finish terminating; what the API server does by itself works: CRDs
become Established, admission and RBAC apply, watches stream. Both processes
listen on random loopback ports; the admin identity is a client certificate
in `system:masters` signed by the shared test CA, which also signs the
server certificate, so the kubeconfig trusts exactly that CA.
"""

from __future__ import annotations

import json
import ssl
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from ..support.ports import free_port
from .ca import TestCA
from .components import binary, kubebuilder_asset
from .errors import TestEnvError
from .process import ManagedProcess

SERVICE_CLUSTER_IP_RANGE = "10.0.0.0/24"


def _service_account_keys(directory: Path, stem: str = "sa") -> tuple[Path, Path]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = directory / f"{stem}.key"
    public = directory / f"{stem}.pub"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private, public


class KubeEnv:
    """A running etcd + kube-apiserver pair with an admin kubeconfig."""

    def __init__(self, directory: Path, ca: TestCA) -> None:
        self.directory = directory
        self.ca = ca
        self.etcd_bin = kubebuilder_asset("etcd")
        self.apiserver_bin = kubebuilder_asset("kube-apiserver")
        self.kubectl_bin: Path | None = None
        try:
            self.kubectl_bin = binary("AUTHGATE_KUBECTL", "kubectl")
        except TestEnvError:
            self.kubectl_bin = None  # .kubectl() raises; the API client still works
        self.port = free_port()
        self.server = f"https://127.0.0.1:{self.port}"
        self.kubeconfig = directory / "kubeconfig"
        self.etcd: ManagedProcess | None = None
        self.apiserver: ManagedProcess | None = None
        self.version = ""
        # Service-account token keys: the signing key, and every public key the
        # apiserver accepts (--service-account-key-file, repeatable), newest last.
        self.sa_signing_key: Path | None = None
        self.sa_public_keys: list[Path] = []

    @property
    def ca_file(self) -> Path:
        """The CA that signed the API server's certificate (and the admin client cert)."""
        return self.ca.cert_file

    # -- lifecycle -------------------------------------------------------
    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._start_etcd()
        self._start_apiserver()
        self._write_kubeconfig()
        self.apiserver_wait_ready()
        self.version = str(self._get("/version")["gitVersion"])

    def stop(self) -> None:
        if self.apiserver:
            self.apiserver.stop()
        if self.etcd:
            self.etcd.stop()

    def log_files(self) -> list[Path]:
        return [p.log_file for p in (self.etcd, self.apiserver) if p is not None]

    def _start_etcd(self) -> None:
        client_port, peer_port = free_port(), free_port()
        client_url = f"http://127.0.0.1:{client_port}"
        peer_url = f"http://127.0.0.1:{peer_port}"
        self.etcd_url = client_url
        self.etcd = ManagedProcess(
            "etcd",
            [
                self.etcd_bin,
                "--name=authgate-test",
                f"--data-dir={self.directory / 'etcd-data'}",
                f"--listen-client-urls={client_url}",
                f"--advertise-client-urls={client_url}",
                f"--listen-peer-urls={peer_url}",
                f"--initial-advertise-peer-urls={peer_url}",
                f"--initial-cluster=authgate-test={peer_url}",
                "--unsafe-no-fsync=true",  # a throwaway store: durability buys nothing
                "--log-level=warn",
            ],
            self.directory / "etcd.log",
        )
        self.etcd.start()
        self.etcd.wait_ready(
            lambda: _http_ok(f"{client_url}/health"), timeout=60, what="healthy /health"
        )

    def _start_apiserver(self) -> None:
        certs = self.directory / "pki"
        certs.mkdir(exist_ok=True)
        if self.sa_signing_key is None:
            self.sa_signing_key, sa_pub = _service_account_keys(certs)
            self.sa_public_keys = [sa_pub]
        serving_cert, serving_key = self.ca.issue(
            ["127.0.0.1", "localhost", "kubernetes", "kubernetes.default", "10.0.0.1"],
            common_name="kube-apiserver",
        )
        self.client_cert, self.client_key = self.ca.issue(
            [], common_name="authgate-admin", organizations=["system:masters"], client=True
        )
        self.apiserver = ManagedProcess(
            "kube-apiserver",
            [
                self.apiserver_bin,
                f"--etcd-servers={self.etcd_url}",
                f"--cert-dir={certs}",
                f"--secure-port={self.port}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--tls-cert-file={serving_cert}",
                f"--tls-private-key-file={serving_key}",
                f"--client-ca-file={self.ca.cert_file}",
                f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
                "--authorization-mode=RBAC",
                "--disable-admission-plugins=ServiceAccount",
                f"--service-account-issuer={self.server}",
                *(f"--service-account-key-file={pub}" for pub in self.sa_public_keys),
                f"--service-account-signing-key-file={self.sa_signing_key}",
                "--allow-privileged=true",
                "--endpoint-reconciler-type=none",
                "--v=1",
            ],
            self.directory / "kube-apiserver.log",
        )
        self.apiserver.start()

    def rotate_service_account_key(self) -> Path:
        """Restart the apiserver signing with a new key while the old public keys
        stay listed (the documented rotation); returns the new private key file."""
        assert self.apiserver is not None
        stem = f"sa{len(self.sa_public_keys) + 1}"
        self.sa_signing_key, public = _service_account_keys(self.directory / "pki", stem)
        self.sa_public_keys.append(public)
        self.apiserver.stop()
        self._start_apiserver()
        self.apiserver_wait_ready()
        return self.sa_signing_key

    def apiserver_wait_ready(self, timeout: float = 180.0) -> None:
        assert self.apiserver is not None
        self.apiserver.wait_ready(
            lambda: _http_ok(f"{self.server}/readyz", self._ssl_context()),
            timeout=timeout,
            what="ready /readyz",
        )

    def _write_kubeconfig(self) -> None:
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "authgate-test",
                    "cluster": {
                        "server": self.server,
                        "certificate-authority": str(self.ca.cert_file),
                    },
                }
            ],
            "users": [
                {
                    "name": "authgate-admin",
                    "user": {
                        "client-certificate": str(self.client_cert),
                        "client-key": str(self.client_key),
                    },
                }
            ],
            "contexts": [
                {
                    "name": "authgate-test",
                    "context": {"cluster": "authgate-test", "user": "authgate-admin"},
                }
            ],
            "current-context": "authgate-test",
        }
        self.kubeconfig.write_text(yaml.safe_dump(config))

    # -- clients ---------------------------------------------------------
    def _ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.ca.cert_file))
        context.load_cert_chain(str(self.client_cert), str(self.client_key))
        return context

    def _get(self, path: str) -> Any:
        with urllib.request.urlopen(
            f"{self.server}{path}", context=self._ssl_context(), timeout=10
        ) as response:
            return json.loads(response.read())

    def api_client(self) -> Any:
        """A `kubernetes.client.ApiClient` authenticated as the admin."""
        from kubernetes import config

        return config.new_client_from_config(  # type: ignore[no-untyped-call]
            config_file=str(self.kubeconfig)
        )

    def kubectl(
        self, *args: str, check: bool = True, input: str | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """Run kubectl against this control plane; raises TestEnvError on failure if `check`."""
        if self.kubectl_bin is None:
            raise TestEnvError("kubectl not found: set AUTHGATE_KUBECTL or run `make testenv`")
        result = subprocess.run(
            [str(self.kubectl_bin), f"--kubeconfig={self.kubeconfig}", *args],
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise TestEnvError(
                f"kubectl {' '.join(args)} exited {result.returncode}: {result.stderr.strip()}"
            )
        return result


def _http_ok(url: str, context: ssl.SSLContext | None = None) -> bool:
    with urllib.request.urlopen(url, context=context, timeout=5) as response:
        return bool(response.status == 200)

"""Real processes for the proxy tests: servers, the proxy, tokens, raw HTTP.

Everything here starts an actual process on a free loopback port and waits
for it with a bounded poll; logs go to files that are printed on failure.
"""

from __future__ import annotations

import asyncio
import copy
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
import yaml
from cryptography.hazmat.primitives.asymmetric import ec, rsa

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
PYTHON = sys.executable
AUDIENCE = "api://authgate"
CLIENT_ID = "authgate-cli"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_get(url: str, timeout: float = 2.0) -> tuple[int, bytes]:
    """A blocking GET for readiness polls (never raises on connection errors)."""
    host_port = url.split("//", 1)[1].split("/", 1)[0]
    path = "/" + url.split("//", 1)[1].split("/", 1)[1] if "/" in url.split("//", 1)[1] else "/"
    host, port = host_port.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read()
    except OSError:
        return 0, b""
    finally:
        conn.close()


def wait_for(url: str, *, status: int = 200, timeout: float = 20.0, proc: Any = None) -> None:
    deadline = time.monotonic() + timeout
    last = 0
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} was up")
        last, _ = http_get(url, timeout=1.0)
        if last == status:
            return
        time.sleep(0.05)
    raise TimeoutError(f"{url} did not answer {status} within {timeout}s (last {last})")


@dataclass
class ServerProcess:
    """A child process with its output in a log file."""

    argv: list[str]
    log_path: Path
    env: dict[str, str] | None = None
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> ServerProcess:
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            self.argv, stdout=self._log, stderr=subprocess.STDOUT, env=self.env, cwd=ROOT
        )
        return self

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def wait(self, timeout: float) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout=timeout)

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        if hasattr(self, "_log"):
            self._log.close()

    def rss_kib(self) -> int:
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def hwm_kib(self) -> int:
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        return 0


# --------------------------------------------------------------------------- keys and tokens


@dataclass
class SigningKeys:
    """An RSA and an EC key, published as a JWKS the fake IdP serves."""

    rsa_key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    ec_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )

    def jwks(self) -> dict[str, Any]:
        rsa_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.rsa_key.public_key()))
        rsa_jwk.update(kid="rsa-1", use="sig", alg="RS256")
        ec_jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self.ec_key.public_key()))
        ec_jwk.update(kid="ec-1", use="sig", alg="ES256")
        return {"keys": [rsa_jwk, ec_jwk]}


@dataclass
class FakeIdP:
    issuer: str
    process: ServerProcess
    keys: SigningKeys

    def mint(
        self,
        *,
        scope: str | None = "openid platform:read platform:write",
        kind: str = "rsa",
        ttl: int = 300,
        **claims: Any,
    ) -> str:
        now = int(time.time())
        payload: dict[str, Any] = {
            "iss": self.issuer,
            "aud": AUDIENCE,
            "sub": "user-1",
            "email": "alice@example.com",
            "groups": ["developers"],
            "iat": now,
            "nbf": now,
            "exp": now + ttl,
            "jti": uuid.uuid4().hex,
        }
        if scope is not None:
            payload["scope"] = scope
        payload.update(claims)
        if kind == "ec":
            return jwt.encode(payload, self.keys.ec_key, algorithm="ES256",
                              headers={"kid": "ec-1"})  # fmt: skip
        return jwt.encode(payload, self.keys.rsa_key, algorithm="RS256", headers={"kid": "rsa-1"})

    def stats(self) -> dict[str, int]:
        status, body = http_get(f"{self.issuer}/stats")
        assert status == 200
        return dict(json.loads(body))


# --------------------------------------------------------------------------- the proxy


def deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(dict(base))
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def base_document(issuer: str, upstream: str, engine: str) -> dict[str, Any]:
    return {
        "apiVersion": "authgate.io/v1alpha1",
        "kind": "ProxyConfig",
        "server": {"engine": engine, "workers": 1},
        "listen": {"host": "127.0.0.1", "port": free_port()},
        "admin": {"host": "127.0.0.1", "port": free_port()},
        "upstream": {"url": upstream, "connect_timeout_seconds": 2, "read_timeout_seconds": 3},
        "auth_enabled": True,
        "oidc": {"issuer": issuer, "client_id": CLIENT_ID, "audience": [AUDIENCE]},
        "keys": {"refresh_interval_seconds": 300, "unknown_kid_cooldown_seconds": 30},
        "authorization": {
            "rules": [
                {
                    "path_prefix": "/apis/files/",
                    "read_scopes": ["files:read"],
                    "write_scopes": ["files:write"],
                },
            ],
        },
        "limits": {"drain_timeout_seconds": 5},
    }


@dataclass
class ProxyProcess:
    """``python -m authgate proxy --config FILE`` as a child process."""

    document: dict[str, Any]
    workdir: Path
    process: ServerProcess | None = None

    @property
    def config_path(self) -> Path:
        return self.workdir / "config.yaml"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.document['listen']['port']}"

    @property
    def port(self) -> int:
        return int(self.document["listen"]["port"])

    @property
    def admin_url(self) -> str:
        return f"http://127.0.0.1:{self.document['admin']['port']}"

    def write_config(self, document: Mapping[str, Any]) -> None:
        """Atomic replace (write a temp file, rename over), as editors and kubelet do."""
        tmp = self.config_path.with_suffix(".tmp")
        tmp.write_text(yaml.safe_dump(dict(document), sort_keys=False))
        os.replace(tmp, self.config_path)

    def start(self, *, wait_ready: bool = True) -> ProxyProcess:
        if not self.config_path.exists():
            self.write_config(self.document)
        env = dict(os.environ)
        env.pop("AUTHGATE__SERVER__ENGINE", None)
        self.process = ServerProcess(
            [PYTHON, "-m", "authgate", "proxy", "--config", str(self.config_path)],
            self.workdir / "proxy.log",
            env=env,
        ).start()
        if wait_ready:
            wait_for(f"{self.admin_url}/readyz", timeout=30, proc=self.process.proc)
        return self

    def log(self) -> str:
        return self.process.log() if self.process else ""

    def metrics(self) -> str:
        status, body = http_get(f"{self.admin_url}/metrics")
        assert status == 200
        return body.decode()

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()


def metric_value(exposition: str, name: str, **labels: str) -> float:
    """The value of one sample in a text exposition (0 when absent)."""
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in exposition.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        head, _, value = line.rpartition(" ")
        sample, _, label_part = head.partition("{")
        if sample != name:
            continue
        got = ",".join(sorted(p for p in label_part.rstrip("}").split(",") if p))
        if got == want:
            return float(value)
    return 0.0


# --------------------------------------------------------------------------- raw HTTP


@dataclass
class RawResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def json(self) -> Any:
        return json.loads(self.body)


async def raw_request(
    port: int, head: bytes, body: bytes = b"", timeout: float = 10.0
) -> RawResponse:
    """Send bytes exactly as given (for duplicate/odd headers and raw targets)
    and read one response (``Connection: close`` is expected in ``head``)."""

    async def go() -> RawResponse:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(head + body)
            await writer.drain()
            data = await reader.read()
        finally:
            writer.close()
        header_blob, _, rest = data.partition(b"\r\n\r\n")
        lines = header_blob.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = [tuple(x.split(":", 1)) for x in lines[1:] if ":" in x]
        hdrs = [(k.strip(), v.strip()) for k, v in headers]
        if any(k.lower() == "transfer-encoding" and "chunked" in v.lower() for k, v in hdrs):
            rest = _dechunk(rest)
        return RawResponse(status, hdrs, rest)

    return await asyncio.wait_for(go(), timeout)


def _dechunk(data: bytes) -> bytes:
    out = bytearray()
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out += data[:size]
        data = data[size + 2 :]
    return bytes(out)


def request_head(method: str, target: str, port: int, headers: list[tuple[str, str]]) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

"""The real servers around the proxy under attack, on loopback.

* :class:`LocalIdP` publishes an OIDC discovery document and a JWKS (one RSA and
  one EC key) over plain HTTP on loopback — the proxy fetches it like any IdP.
  Its keys can be rotated, and it can be made to fail (outage scenarios).
* :class:`Canary` is where hostile tokens point ``jku``/``x5u``: it records
  every hit, so a test can assert the proxy never fetched it.
* :class:`RecordingUpstream` is the protected app: it records exactly what it
  received (method, raw target, raw header list, body length), echoes
  websocket frames, and has paths that misbehave on purpose (``/slow``,
  ``/hang``, ``/reset``, ``/stream``) for fault tests.

They all run on one aiohttp event loop in a background thread
(:class:`ServerThread`), so the synchronous test code can drive the proxy with
raw sockets while the servers keep answering.
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, TypeVar

import jwt
from aiohttp import WSMsgType, web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

T = TypeVar("T")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")



class ServerThread:
    """An asyncio loop in a daemon thread that hosts aiohttp apps."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self._runners: list[web.AppRunner] = []

    def call(self, coro: Awaitable[T], timeout: float = 30) -> T:
        fut: Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)  # type: ignore[arg-type]
        return fut.result(timeout)

    def serve(self, app: web.Application, port: int = 0) -> tuple[web.AppRunner, int]:
        async def start() -> tuple[web.AppRunner, int]:
            runner = web.AppRunner(app, access_log=None, handle_signals=False)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", port, reuse_address=True)
            await site.start()
            sock = site._server.sockets[0]  # type: ignore[union-attr]
            return runner, int(sock.getsockname()[1])

        runner, bound = self.call(start())
        self._runners.append(runner)
        return runner, bound

    def stop_runner(self, runner: web.AppRunner) -> None:
        self.call(runner.cleanup())
        if runner in self._runners:
            self._runners.remove(runner)

    def close(self) -> None:
        for runner in list(self._runners):
            try:
                self.call(runner.cleanup(), timeout=10)
            except Exception:
                pass

        async def cancel_rest() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        try:
            self.call(cancel_rest(), timeout=10)
        except Exception:
            pass
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)


# --------------------------------------------------------------------------- IdP


@dataclass
class KeyPair:
    kid: str
    alg: str
    private: Any
    public: Any

    @classmethod
    def rsa(cls, kid: str) -> KeyPair:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return cls(kid, "RS256", key, key.public_key())

    @classmethod
    def ec(cls, kid: str) -> KeyPair:
        key = ec.generate_private_key(ec.SECP256R1())
        return cls(kid, "ES256", key, key.public_key())

    def jwk(self) -> dict[str, Any]:
        algo = (
            jwt.algorithms.RSAAlgorithm
            if self.alg.startswith(("RS", "PS"))
            else jwt.algorithms.ECAlgorithm
        )
        data: dict[str, Any] = json.loads(algo.to_jwk(self.public))
        data.update({"kid": self.kid, "use": "sig", "alg": self.alg})
        return data

    @property
    def public_pem(self) -> bytes:
        return bytes(
            self.public.public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )

    def sign(
        self, claims: dict[str, Any], headers: dict[str, Any] | None = None, alg: str | None = None
    ) -> str:
        """A JWS with a genuine signature.  Built by hand (PyJWT's own signer,
        not its encoder) because the encoder refuses ill-typed claims such as
        a non-string ``iss`` — which hostile tests need to send."""
        header = {"alg": alg or self.alg, "typ": "JWT", "kid": self.kid, **(headers or {})}
        signing_input = (
            f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        )
        algo = jwt.get_algorithm_by_name(alg or self.alg)
        sig = algo.sign(signing_input.encode(), self.private)
        return f"{signing_input}.{_b64url(sig)}"


@dataclass
class LocalIdP:
    """Discovery + JWKS on loopback. ``keys`` is what is published; ``mode`` can
    be ``"ok"``, ``"down"`` (connection refused: the listener is stopped) or
    ``"error"`` (HTTP 503)."""

    servers: ServerThread
    keys: list[KeyPair] = field(default_factory=list)
    port: int = 0
    mode: str = "ok"
    jwks_hits: int = 0
    _runner: web.AppRunner | None = None

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}/realms/authgate"

    @property
    def jwks_uri(self) -> str:
        return self.issuer + "/protocol/openid-connect/certs"

    def start(self) -> LocalIdP:
        if not self.keys:
            self.keys = [KeyPair.rsa("rsa-1"), KeyPair.ec("ec-1")]
        app = web.Application()
        app.router.add_get("/realms/authgate/.well-known/openid-configuration", self._discovery)
        app.router.add_get("/realms/authgate/protocol/openid-connect/certs", self._jwks)
        self._runner, self.port = self.servers.serve(app, self.port)
        return self

    def stop(self) -> None:
        """Outage: stop listening (clients get connection refused)."""
        if self._runner is not None:
            self.servers.stop_runner(self._runner)
            self._runner = None

    async def _discovery(self, request: web.Request) -> web.Response:
        if self.mode == "error":
            return web.Response(status=503)
        return web.json_response(
            {
                "issuer": self.issuer,
                "jwks_uri": self.jwks_uri,
                "token_endpoint": self.issuer + "/protocol/openid-connect/token",
                "device_authorization_endpoint": self.issuer
                + "/protocol/openid-connect/auth/device",
            }
        )

    async def _jwks(self, request: web.Request) -> web.Response:
        self.jwks_hits += 1
        if self.mode == "error":
            return web.Response(status=503)
        return web.json_response({"keys": [k.jwk() for k in self.keys]})

    @property
    def primary(self) -> KeyPair:
        return self.keys[0]


# ------------------------------------------------------------------------ Canary


@dataclass
class Canary:
    """Records every request: a hostile ``jku``/``x5u`` must never be fetched."""

    servers: ServerThread
    port: int = 0
    hits: list[str] = field(default_factory=list)

    def start(self) -> Canary:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._hit)
        _, self.port = self.servers.serve(app)
        return self

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def _hit(self, request: web.Request) -> web.Response:
        self.hits.append(request.path_qs)
        return web.json_response({"keys": []})


# ---------------------------------------------------------------------- Upstream


@dataclass(frozen=True)
class Seen:
    """One request as the upstream received it."""

    method: str
    target: str
    headers: tuple[tuple[str, str], ...]
    body_len: int
    at: float

    def values(self, name: str) -> list[str]:
        """Values of every header whose name equals ``name`` ignoring case and ``_``/``-``."""
        key = name.lower().replace("_", "-")
        return [v for n, v in self.headers if n.lower().replace("_", "-") == key]


@dataclass
class RecordingUpstream:
    """The protected app.  Paths:

    * anything → 200 JSON ``{"ok": true}`` after reading the body;
    * websocket upgrade on any path → echo text frames (``"close:<code>"`` makes
      the upstream close with that code);
    * ``/slow?ms=N`` → answers after N ms; ``/hang`` → never answers;
    * ``/reset`` → sends headers and part of a body, then aborts the connection;
    * ``/stream?chunks=N&ms=M`` → N chunks M ms apart.
    """

    servers: ServerThread
    port: int = 0
    seen: list[Seen] = field(default_factory=list)
    handler_hook: Callable[[web.Request], Awaitable[web.StreamResponse | None]] | None = None
    _runner: web.AppRunner | None = None

    def start(self) -> RecordingUpstream:
        app = web.Application(client_max_size=1024**3)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner, self.port = self.servers.serve(app, self.port)
        return self

    def stop(self) -> None:
        if self._runner is not None:
            self.servers.stop_runner(self._runner)
            self._runner = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def count(self) -> int:
        return len(self.seen)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body_len = 0
        if request.headers.get("Upgrade", "").lower() != "websocket":
            async for chunk in request.content.iter_any():
                body_len += len(chunk)
        self.seen.append(
            Seen(
                method=request.method,
                target=request.raw_path,
                headers=tuple(
                    (k.decode("latin-1"), v.decode("latin-1")) for k, v in request.raw_headers
                ),
                body_len=body_len,
                at=time.monotonic(),
            )
        )
        if self.handler_hook is not None:
            answer = await self.handler_hook(request)
            if answer is not None:
                return answer
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await self._websocket(request)
        path = request.path
        if path == "/slow":
            await asyncio.sleep(int(request.query.get("ms", "1000")) / 1000)
        elif path == "/hang":
            await asyncio.sleep(60)  # far beyond any read timeout the tests configure
        elif path == "/reset":
            resp = web.StreamResponse(headers={"Content-Length": "100000"})
            await resp.prepare(request)
            await resp.write(b"x" * 1000)
            assert request.transport is not None
            request.transport.abort()
            return resp
        elif path == "/stream":
            resp = web.StreamResponse()
            await resp.prepare(request)
            for _ in range(int(request.query.get("chunks", "10"))):
                await resp.write(b"chunk\n")
                await asyncio.sleep(int(request.query.get("ms", "100")) / 1000)
            await resp.write_eof()
            return resp
        return web.json_response({"ok": True, "path": request.raw_path})

    async def _websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=None)
        await ws.prepare(request)
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                if msg.data.startswith("close:"):
                    await ws.close(code=int(msg.data.split(":", 1)[1]))
                    break
                await ws.send_str("echo:" + msg.data)
            elif msg.type == WSMsgType.BINARY:
                await ws.send_bytes(msg.data)
        return ws

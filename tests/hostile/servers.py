"""The real servers around the proxy under attack, on loopback.

* the IdP is the shared :class:`tests.support.idp.LocalIdP` (discovery + JWKS on
  loopback, one RSA and one EC key), on the shared :class:`tests.support.servers.ServerThread`;
* :class:`Canary` is where hostile tokens point ``jku``/``x5u``: it records
  every hit, so a test can assert the proxy never fetched it.
* :class:`RecordingUpstream` is the protected app: it records exactly what it
  received (method, raw target, raw header list, body length), echoes
  websocket frames, and has paths that misbehave on purpose (``/slow``,
  ``/hang``, ``/reset``, ``/stream``) for fault tests.

They all run on one aiohttp event loop in a background thread
(:class:`~tests.support.servers.ServerThread`), so the synchronous test code can
drive the proxy with raw sockets while the servers keep answering.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import WSMsgType, web

from tests.support.servers import ServerThread

__all__ = ["Canary", "RecordingUpstream", "Seen"]


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

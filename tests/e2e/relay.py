"""Byte relays between TCP ports and unix sockets (stdlib only).

A played pod has its own network namespace with nothing but a loopback
interface, like a real pod before the CNI plugin adds its interface. Unix
sockets in a shared directory are the only way in or out, so relays on both
sides stitch TCP to them:

* **ingress** (like ``kubectl port-forward``): the host listens on a loopback
  port, the pod's sandbox relays each connection to ``127.0.0.1:<port>`` inside
  the pod's namespace;
* **egress** (the pod reaching a service on the host's loopback, here the IdP):
  the sandbox listens on ``127.0.0.1:<port>`` inside the pod, the host relays to
  ``127.0.0.1:<port>`` of the host. TLS passes through untouched.

Run as a script (inside the sandbox container) with specs
``tcp:PORT=unix:PATH`` (listen on TCP, connect to the unix socket) or
``unix:PATH=tcp:PORT`` (listen on the unix socket, connect to TCP).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any

Opener = Callable[[], Any]


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()  # half-close: the peer sees the end of the request
    except (ConnectionError, OSError, RuntimeError):
        writer.close()


def _handler(connect: Opener) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Any]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await connect()
        except OSError:
            writer.close()
            return
        await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer))
        for w in (writer, upstream_writer):
            w.close()

    return handle


async def start(spec: str) -> asyncio.AbstractServer:
    """Start one relay described by ``spec`` (see the module doc)."""
    listen, _, target = spec.partition("=")
    target_kind, _, target_at = target.partition(":")
    if target_kind == "unix":
        connect: Opener = lambda: asyncio.open_unix_connection(target_at)  # noqa: E731
    else:
        connect = lambda: asyncio.open_connection("127.0.0.1", int(target_at))  # noqa: E731
    listen_kind, _, listen_at = listen.partition(":")
    if listen_kind == "unix":
        with contextlib.suppress(FileNotFoundError):
            os.unlink(listen_at)
        server = await asyncio.start_unix_server(_handler(connect), path=listen_at)
        os.chmod(listen_at, 0o666)  # the other side runs as another uid
        return server
    return await asyncio.start_server(_handler(connect), "127.0.0.1", int(listen_at))


class HostRelays:
    """The host side: relays served by an event loop in a daemon thread."""

    def __init__(self, specs: Sequence[str]) -> None:
        self.specs = list(specs)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._servers: list[asyncio.AbstractServer] = []

    def start(self) -> None:
        self._thread.start()
        for spec in self.specs:
            future = asyncio.run_coroutine_threadsafe(start(spec), self.loop)
            self._servers.append(future.result(timeout=10))

    def stop(self) -> None:
        async def close() -> None:
            for server in self._servers:
                server.close()

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(close(), self.loop).result(timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)


async def _main(specs: Sequence[str]) -> None:
    servers = [await start(spec) for spec in specs]
    print("relays ready", flush=True)
    await asyncio.gather(*(server.serve_forever() for server in servers))


if __name__ == "__main__":
    asyncio.run(_main(sys.argv[1:]))

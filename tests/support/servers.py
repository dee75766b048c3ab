"""An asyncio loop in a background thread that hosts the tests' aiohttp servers.

Synchronous test code (raw sockets, ``http.client``, subprocess waits) keeps driving the
system under test while the servers on this loop keep answering; async tests can use it
just the same, since the loop is not theirs.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections.abc import Awaitable
from concurrent.futures import Future
from typing import TypeVar

from aiohttp import web

__all__ = ["ServerThread"]

T = TypeVar("T")


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

    def serve(
        self, app: web.Application, port: int = 0, ssl_context: ssl.SSLContext | None = None
    ) -> tuple[web.AppRunner, int]:
        """Serve ``app`` on 127.0.0.1 (``port`` 0: the kernel picks one; HTTPS with
        ``ssl_context``) and return its runner and the bound port."""

        async def start() -> tuple[web.AppRunner, int]:
            runner = web.AppRunner(app, access_log=None, handle_signals=False)
            await runner.setup()
            site = web.TCPSite(
                runner, "127.0.0.1", port, reuse_address=True, ssl_context=ssl_context
            )
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

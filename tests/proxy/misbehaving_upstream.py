"""An upstream that misbehaves on purpose, for the gateway-failure tests.

``/hang`` never answers (and counts handlers cancelled because the proxy
closed the connection); ``/slow-body`` sends headers then stalls; ``/stats``
reports the counters.
"""

from __future__ import annotations

import argparse
import asyncio

from aiohttp import web


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    stats: dict[str, int | None] = {"hang_started": 0, "hang_cancelled": 0, "ws_close_code": None}

    async def hang(request: web.Request) -> web.Response:
        stats["hang_started"] += 1  # type: ignore[operator]
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            stats["hang_cancelled"] += 1  # type: ignore[operator]
            raise
        return web.Response(text="unreachable")

    async def hop(request: web.Request) -> web.Response:
        # Hop-by-hop fields (and one named by Connection) the proxy must drop.
        return web.Response(
            text="hop",
            headers={
                "Connection": "X-Secret-Hop",
                "X-Secret-Hop": "1",
                "Keep-Alive": "timeout=5",
                "Proxy-Authenticate": "Basic",
                "X-End-To-End": "kept",
            },
        )

    async def ws_record(request: web.Request) -> web.WebSocketResponse:
        # Records the close code the client (through the proxy) sent.
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for _ in ws:
            pass
        stats["ws_close_code"] = ws.close_code
        return ws

    async def get_stats(request: web.Request) -> web.Response:
        return web.json_response(stats)

    app = web.Application()
    app.router.add_get("/hang", hang)
    app.router.add_get("/stats", get_stats)
    app.router.add_get("/hop", hop)
    app.router.add_get("/ws-record", ws_record)

    async def serve() -> None:
        runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", args.port).start()
        await asyncio.Event().wait()

    asyncio.run(serve())


if __name__ == "__main__":
    main()

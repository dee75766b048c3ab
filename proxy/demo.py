"""The bundled demo service: shows exactly what an upstream receives.

It stands behind the proxy in ``authgate quickstart`` and in the tests:

* any path — echoes method, path (raw, as received), query and every
  received header as JSON, so the injected identity headers are visible;
* ``/sse`` — server-sent events at a fixed interval (``?count=&interval=``);
* ``/ws`` — a websocket echo; a text message ``close:<code>`` closes with
  that code;
* ``/stream?bytes=N`` — a download of N bytes, generated on the fly;
* ``/upload`` — reads the body without keeping it and answers the count.

Run alone with ``python -m authgate.proxy.demo --port 8000``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

from aiohttp import WSMsgType, web

__all__ = ["build_demo_app"]

_CHUNK = 64 * 1024


async def echo(request: web.Request) -> web.Response:
    body = await request.read() if request.can_read_body else b""
    return web.json_response(
        {
            "method": request.method,
            "path": request.raw_path.split("?", 1)[0],
            "raw_target": request.raw_path,
            "query": request.query_string,
            "headers": [[k, v] for k, v in request.headers.items()],
            "body_bytes": len(body),
        }
    )


async def sse(request: web.Request) -> web.StreamResponse:
    count = min(int(request.query.get("count", "5")), 1000)
    interval = min(float(request.query.get("interval", "0.2")), 10.0)
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
    )
    await response.prepare(request)
    for i in range(count):
        event = {"seq": i, "sent_at": time.time()}
        await response.write(f"id: {i}\ndata: {json.dumps(event)}\n\n".encode())
        if i + 1 < count:
            await asyncio.sleep(interval)
    await response.write_eof()
    return response


async def websocket(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(protocols=("echo",))
    await ws.prepare(request)
    async for msg in ws:
        if msg.type is WSMsgType.TEXT:
            if msg.data.startswith("close:"):
                await ws.close(code=int(msg.data[6:]), message=b"demo close")
                break
            await ws.send_str(msg.data)
        elif msg.type is WSMsgType.BINARY:
            await ws.send_bytes(msg.data)
    return ws


async def stream(request: web.Request) -> web.StreamResponse:
    total = int(request.query.get("bytes", str(1024 * 1024)))
    response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
    if request.query.get("chunked") != "1":
        response.content_length = total
    await response.prepare(request)
    block = b"x" * _CHUNK
    remaining = total if request.method != "HEAD" else 0  # HEAD: same head, no body
    while remaining > 0:
        n = min(remaining, _CHUNK)
        await response.write(block[:n])
        remaining -= n
    await response.write_eof()
    return response


async def upload(request: web.Request) -> web.Response:
    count = 0
    async for chunk in request.content.iter_chunked(_CHUNK):
        count += len(chunk)
    return web.json_response(
        {"bytes": count, "transfer_encoding": request.headers.get("Transfer-Encoding")}
    )


def build_demo_app() -> web.Application:
    app = web.Application(client_max_size=0)
    app.router.add_get("/sse", sse)
    app.router.add_get("/ws", websocket)
    app.router.add_get("/stream", stream)
    app.router.add_post("/upload", upload)
    app.router.add_put("/upload", upload)
    app.router.add_route("*", "/{tail:.*}", echo)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description="authgate demo echo service")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    web.run_app(build_demo_app(), host=args.host, port=args.port, access_log=None)


if __name__ == "__main__":
    main()

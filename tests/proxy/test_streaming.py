"""Bodies stream both ways without buffering; SSE events arrive as sent."""

from __future__ import annotations

import itertools
import json
import time

import aiohttp
import pytest

from .proxy_harness import FakeIdP, ProxyProcess

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MIB = 1024 * 1024
LARGE = 256 * MIB
TIMEOUT = aiohttp.ClientTimeout(total=240)


async def _blocks(total: int, block: int = MIB):  # type: ignore[no-untyped-def]
    chunk = b"u" * block
    sent = 0
    while sent < total:
        n = min(block, total - sent)
        yield chunk[:n]
        sent += n


async def test_large_upload_and_download_with_flat_memory(proxy_factory, fake_idp: FakeIdP) -> None:  # type: ignore[no-untyped-def]
    # A generous read timeout: on a loaded machine the upload alone can take
    # longer than the suite's default 3 s.
    proxy = proxy_factory(upstream={"read_timeout_seconds": 120})
    auth = {"Authorization": f"Bearer {fake_idp.mint()}"}
    assert proxy.process is not None
    async with aiohttp.ClientSession(timeout=TIMEOUT) as s:
        async with s.get(f"{proxy.url}/warmup", headers=auth) as r:
            assert r.status == 200
        baseline = proxy.process.rss_kib()
        # Upload: chunked (no Content-Length), streamed from a generator.
        async with s.post(f"{proxy.url}/upload", headers=auth, data=_blocks(LARGE)) as r:
            assert r.status == 200
            assert (await r.json())["bytes"] == LARGE
        after_upload = proxy.process.hwm_kib()
        # Upload with a Content-Length.
        async with s.put(
            f"{proxy.url}/upload",
            headers={**auth, "Content-Length": str(64 * MIB)},
            data=_blocks(64 * MIB),
        ) as r:
            assert r.status == 200
            assert (await r.json())["bytes"] == 64 * MIB
        # Download, counted without keeping it.
        received = 0
        async with s.get(f"{proxy.url}/stream?bytes={LARGE}", headers=auth) as r:
            assert r.status == 200
            assert r.headers["Content-Length"] == str(LARGE)
            async for chunk in r.content.iter_chunked(MIB):
                received += len(chunk)
        assert received == LARGE
        peak = proxy.process.hwm_kib()
    growth_mib = (peak - baseline) / 1024
    print(
        f"\nproxy RSS: baseline {baseline / 1024:.1f} MiB, peak after upload "
        f"{after_upload / 1024:.1f} MiB, peak overall {peak / 1024:.1f} MiB "
        f"(growth {growth_mib:.1f} MiB for {LARGE // MIB} MiB each way)"
    )
    # A buffering proxy would grow by the body size; streaming stays flat.
    assert growth_mib < 64, growth_mib


async def test_chunked_response_passes_through(proxy: ProxyProcess, fake_idp: FakeIdP) -> None:
    auth = {"Authorization": f"Bearer {fake_idp.mint()}"}
    async with aiohttp.ClientSession(timeout=TIMEOUT) as s:
        async with s.get(f"{proxy.url}/stream?bytes=300000&chunked=1", headers=auth) as r:
            assert r.status == 200
            assert r.headers.get("Transfer-Encoding") == "chunked"
            assert "Content-Length" not in r.headers
            body = await r.read()
    assert body == b"x" * 300000


async def test_sse_events_arrive_as_sent(proxy: ProxyProcess, fake_idp: FakeIdP) -> None:
    auth = {"Authorization": f"Bearer {fake_idp.mint()}"}
    received: list[tuple[dict, float]] = []
    async with aiohttp.ClientSession(timeout=TIMEOUT) as s:
        async with s.get(f"{proxy.url}/sse?count=5&interval=0.4", headers=auth) as r:
            assert r.status == 200
            assert r.headers["Content-Type"].startswith("text/event-stream")
            async for line in r.content:
                if line.startswith(b"data: "):
                    received.append((json.loads(line[6:]), time.time()))
    assert [e["seq"] for e, _ in received] == [0, 1, 2, 3, 4]
    # Each event reached the client before the upstream even produced the next
    # one: ordering of events, not a wall-clock budget.
    for (_, got), (nxt, _) in itertools.pairwise(received):
        assert got < nxt["sent_at"]


async def test_head_and_empty_bodies(proxy: ProxyProcess, fake_idp: FakeIdP) -> None:
    auth = {"Authorization": f"Bearer {fake_idp.mint()}"}
    async with aiohttp.ClientSession(timeout=TIMEOUT) as s:
        async with s.head(f"{proxy.url}/stream?bytes=1234", headers=auth) as r:
            assert r.status == 200, await r.text()
            assert r.headers["Content-Length"] == "1234"
            assert await r.read() == b""
        async with s.delete(f"{proxy.url}/apis/x", headers=auth) as r:
            assert r.status == 200
            assert (await r.json())["body_bytes"] == 0


async def test_expect_continue_only_after_auth(proxy: ProxyProcess, fake_idp: FakeIdP) -> None:
    import asyncio

    async def interim(token: str | None) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        auth = f"Authorization: Bearer {token}\r\n" if token else ""
        writer.write(
            f"POST /upload HTTP/1.1\r\nHost: x\r\n{auth}Content-Length: 5\r\n"
            "Expect: 100-continue\r\n\r\n".encode()
        )
        await writer.drain()
        first = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        if first.startswith(b"HTTP/1.1 100"):
            writer.write(b"hello")
            await writer.drain()
            first += await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        writer.close()
        return first

    refused = await interim(None)
    assert refused.startswith(b"HTTP/1.1 401")  # answered without inviting the body
    allowed = await interim(fake_idp.mint())
    assert allowed.startswith(b"HTTP/1.1 100 Continue")
    assert b"HTTP/1.1 200" in allowed

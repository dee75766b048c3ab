"""``authgate quickstart``: the proxy in front of the demo, no IdP, no cluster.

One process runs the bundled demo service (:mod:`authgate.proxy.demo`) on a
free loopback port and the proxy in quickstart mode in front of it, then
prints what to try.  Quickstart mode accepts *unsigned* tokens carrying an
email claim (NeMo Platform's ``login --unsigned-token --email`` shortcut), so
it refuses any listen address but loopback unless forced — and then says so
loudly.
"""

from __future__ import annotations

import sys
from typing import Any

import click
from aiohttp import web

from authgate.core.config import ProxyConfig, is_loopback_host, parse_config
from authgate.core.contracts import API_VERSION, CONFIG_KIND, DISCOVERY_PATH

from .demo import build_demo_app
from .runner import Listening, serve

__all__ = ["quickstart_config", "run_quickstart"]


def quickstart_config(
    *, host: str, port: int, upstream: str, force_non_loopback: bool, engine: str = "aiohttp"
) -> ProxyConfig:
    document: dict[str, Any] = {
        "apiVersion": API_VERSION,
        "kind": CONFIG_KIND,
        "server": {"engine": engine, "workers": 1},
        "listen": {"host": host, "port": port},
        "admin": {"host": "127.0.0.1", "port": 0},
        "upstream": {"url": upstream},
        "auth_enabled": True,
        "quickstart": {"enabled": True, "allow_non_loopback": force_non_loopback},
        "limits": {"drain_timeout_seconds": 2},
    }
    return parse_config(document)


def _warn_non_loopback(host: str) -> None:
    bar = "!" * 78
    click.secho(
        f"{bar}\n  WARNING: quickstart is listening on {host}, not loopback.\n"
        "  It accepts UNSIGNED tokens: anyone who can reach this port can claim any\n"
        f"  identity. Never expose it beyond a machine you control.\n{bar}",
        fg="red",
        bold=True,
        err=True,
    )


def _next_steps(listening: Listening, demo_url: str) -> str:
    host = listening.host if listening.host not in ("0.0.0.0", "::") else "127.0.0.1"
    base = f"http://{host}:{listening.port}"
    mint = (
        "python -c 'from authgate.core.quickstart import mint_unsigned_token; "
        'print(mint_unsigned_token("you@example.com"))\''
    )
    return f"""
authgate quickstart is running.

  proxy      {base}   (quickstart mode: unsigned tokens with an email claim)
  demo       {demo_url}   (echoes the headers it receives)
  admin      http://{listening.admin_host}:{listening.admin_port}/healthz  /readyz  /metrics
  discovery  {base}{DISCOVERY_PATH}

Without a token the proxy answers 401:
  curl -i {base}/hello

Get a token with the CLI:
  authgate login --base-url {base} --unsigned-token --email you@example.com
  TOKEN=$(authgate token)
or with one line of Python:
  TOKEN=$({mint})

With it, the demo sees verified identity headers (X-NMP-Principal-Id, ...):
  curl -s -H "Authorization: Bearer $TOKEN" {base}/hello

Spoofed identity headers never get through:
  curl -s -H "Authorization: Bearer $TOKEN" -H "X-NMP-Principal-Id: admin" {base}/hello

Press Ctrl+C to stop.
"""


async def run_quickstart(
    *, host: str, port: int, force_non_loopback: bool, engine: str = "aiohttp"
) -> None:
    demo = web.AppRunner(build_demo_app(), access_log=None)
    await demo.setup()
    site = web.TCPSite(demo, "127.0.0.1", 0)
    await site.start()
    demo_port = int(demo.addresses[0][1])
    demo_url = f"http://127.0.0.1:{demo_port}"
    try:
        config = quickstart_config(
            host=host,
            port=port,
            upstream=demo_url,
            force_non_loopback=force_non_loopback,
            engine=engine,
        )

        def announce(listening: Listening) -> None:
            if not is_loopback_host(host):
                _warn_non_loopback(host)
            print(_next_steps(listening, demo_url), file=sys.stdout, flush=True)

        await serve(config, on_listening=announce)
    finally:
        await demo.cleanup()

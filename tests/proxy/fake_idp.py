"""A tiny OIDC provider for the proxy tests: discovery + JWKS, counted.

Run as a separate process: ``python fake_idp.py --port N --jwks FILE``.  The
JWKS file is re-read on every request so a test can rotate keys by rewriting
it; ``/stats`` reports how often each document was fetched.
"""

from __future__ import annotations

import argparse
import json
import ssl
from pathlib import Path

from aiohttp import web


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--jwks", required=True)
    parser.add_argument("--cert", help="serve HTTPS with this certificate (PEM)")
    parser.add_argument("--key", help="the certificate's private key (PEM)")
    args = parser.parse_args()
    ssl_context = None
    if args.cert:
        ssl_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ssl_context.load_cert_chain(args.cert, args.key)
    scheme = "https" if ssl_context else "http"
    issuer = f"{scheme}://127.0.0.1:{args.port}"
    stats = {"discovery": 0, "jwks": 0}

    async def discovery(request: web.Request) -> web.Response:
        stats["discovery"] += 1
        return web.json_response(
            {
                "issuer": issuer,
                "jwks_uri": f"{issuer}/jwks",
                "token_endpoint": f"{issuer}/token",
                "device_authorization_endpoint": f"{issuer}/device",
                "authorization_endpoint": f"{issuer}/auth",
            }
        )

    async def jwks(request: web.Request) -> web.Response:
        stats["jwks"] += 1
        return web.Response(body=Path(args.jwks).read_bytes(), content_type="application/json")

    async def get_stats(request: web.Request) -> web.Response:
        return web.Response(text=json.dumps(stats), content_type="application/json")

    app = web.Application()
    app.router.add_get("/.well-known/openid-configuration", discovery)
    app.router.add_get("/jwks", jwks)
    app.router.add_get("/stats", get_stats)
    web.run_app(app, host="127.0.0.1", port=args.port, access_log=None, print=None,
                ssl_context=ssl_context)  # fmt: skip


if __name__ == "__main__":
    main()

"""A tiny OIDC provider for the proxy tests: discovery + JWKS, counted.

Run as a separate process: ``python fake_idp.py --port N --jwks FILE``.  The
JWKS file is re-read on every request so a test can rotate keys by rewriting
it; ``/stats`` reports how often each document was fetched.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from aiohttp import web


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--jwks", required=True)
    args = parser.parse_args()
    issuer = f"http://127.0.0.1:{args.port}"
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
    web.run_app(app, host="127.0.0.1", port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()

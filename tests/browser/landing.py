"""The service behind the sidecars in the browser tests: a small HTML page a
person would recognise, and a record of what every request carried.

``GET /__seen`` (asked directly, not through a proxy) returns every request's
method, target and headers, so a test can check that identity headers
arrived and the session cookie never did.  ``GET /__evil?target=URL`` serves
a page that auto-submits a form POST to ``URL`` (the cross-site request).
"""

from __future__ import annotations

import argparse
import html

from aiohttp import web

SEEN = web.AppKey("seen", list)


async def page(request: web.Request) -> web.Response:
    request.app[SEEN].append(
        {
            "method": request.method,
            "target": request.path_qs,
            "headers": [[k, v] for k, v in request.headers.items()],
        }
    )
    if request.method != "GET":
        return web.json_response({"changed": True})
    who = request.headers.get("X-NMP-Principal-Email", "nobody")
    groups = request.headers.get("X-NMP-Principal-Groups", "")
    rows = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
        for k, v in request.headers.items()
        if k.lower().startswith("x-nmp-") or k.lower() == "cookie"
    )
    body = (
        "<!doctype html><html><head><meta charset=utf-8><title>Platform home</title>"
        "<style>body{font-family:sans-serif;margin:2em}th{text-align:left;padding-right:1em}"
        "</style></head><body>"
        f"<h1 id=who>Signed in as {html.escape(who)}</h1>"
        f"<p>Groups: <span id=groups>{html.escape(groups)}</span></p>"
        f"<p>You asked for <code id=target>{html.escape(request.path_qs)}</code></p>"
        f"<table>{rows}</table>"
        '<p><a id=logout href="/apis/auth/logout">Sign out</a></p></body></html>'
    )
    return web.Response(text=body, content_type="text/html")


async def seen(request: web.Request) -> web.Response:
    return web.json_response(request.app[SEEN])


async def evil(request: web.Request) -> web.Response:
    target = html.escape(request.query.get("target", ""), quote=True)
    body = (
        "<!doctype html><html><head><title>Win a prize</title></head><body>"
        f'<form id=f method=post action="{target}"><input name=amount value=1000></form>'
        "<script>document.getElementById('f').submit()</script></body></html>"
    )
    return web.Response(text=body, content_type="text/html")


def build() -> web.Application:
    app = web.Application()
    app[SEEN] = []
    app.router.add_get("/__seen", seen)
    app.router.add_get("/__evil", evil)
    app.router.add_route("*", "/{tail:.*}", page)
    return app


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    web.run_app(build(), host="127.0.0.1", port=args.port, print=lambda *_: None)

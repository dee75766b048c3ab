"""A minimal OIDC issuer for the benchmark: discovery document and JWKS only.

Both authgate and oauth2-proxy discover keys from
``{issuer}/.well-known/openid-configuration`` at start-up, so they must see
the same issuer.  Nothing here mints tokens (see :mod:`bench.tokens`); the
authorization and token endpoints are advertised only because oauth2-proxy's
OIDC provider refuses to start without them.  Loopback only.

Run: ``python -m bench.idp --port 18931 --jwks jwks.json``
"""

from __future__ import annotations

import argparse
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def discovery(issuer: str) -> dict[str, object]:
    return {
        "issuer": issuer,
        "jwks_uri": f"{issuer}/jwks",
        "authorization_endpoint": f"{issuer}/authorize",
        "token_endpoint": f"{issuer}/token",
        "userinfo_endpoint": f"{issuer}/userinfo",
        "device_authorization_endpoint": f"{issuer}/device",
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--jwks", type=Path, required=True)
    args = parser.parse_args()
    issuer = f"http://127.0.0.1:{args.port}"
    bodies = {
        "/.well-known/openid-configuration": json.dumps(discovery(issuer)).encode(),
        "/jwks": args.jwks.read_bytes(),
    }
    hits: dict[str, int] = {}  # per path, so a run can show who fetched keys how often

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            hits[path] = hits.get(path, 0) + 1
            body = json.dumps(hits).encode() if path == "/stats" else bodies.get(path)
            if body is None:
                self.send_response(404)
                body = b"{}"
            else:
                self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return

    ThreadingHTTPServer(("127.0.0.1", args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()

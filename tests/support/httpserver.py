"""A blocking-code HTTP server on loopback that answers from a function.

The client suites stand in for an IdP token endpoint or a platform with a few lines of
logic (record the form, answer 403 on one path); the server, its thread and the
framing of the answer are the same each time, so they are written once here.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.message import Message
from typing import Any

__all__ = ["Answer", "LoopbackHTTPServer", "Request"]


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: Message
    body: bytes


#: ``(status, body)``, sent with ``Content-Type: application/json``.
Answer = tuple[int, bytes]


class LoopbackHTTPServer:
    """A ``ThreadingHTTPServer`` on 127.0.0.1 (a free port) serving in a daemon thread
    from construction on; each request in ``methods`` is answered with
    ``respond(request)``, any other method with the standard library's 501."""

    def __init__(
        self, respond: Callable[[Request], Answer], methods: Sequence[str] = ("GET",)
    ) -> None:
        def handle(handler: http.server.BaseHTTPRequestHandler) -> None:
            length = int(handler.headers.get("Content-Length") or 0)
            body = handler.rfile.read(length) if length else b""
            status, payload = respond(Request(handler.command, handler.path, handler.headers, body))
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(payload)))
            handler.end_headers()
            handler.wfile.write(payload)

        def log_message(handler: http.server.BaseHTTPRequestHandler, *args: Any) -> None:
            pass

        attrs: dict[str, Any] = {f"do_{m}": handle for m in methods}
        attrs["log_message"] = log_message
        handler_class = type("Handler", (http.server.BaseHTTPRequestHandler,), attrs)
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler_class)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

"""A raw-socket TCP server on loopback: one thread accepts, one thread per connection.

Upstreams that must see the bytes a proxy forwards (the conformance recorder, the
parity-defect upstream) cannot sit behind an HTTP library that would normalise them;
the listening, accepting and per-connection threads are the same for each, so they
are written once here and a subclass only handles a connection.
"""

from __future__ import annotations

import socket
import threading
from typing import Self

__all__ = ["SocketServer"]


class SocketServer:
    """Listens on 127.0.0.1 (a free port) from :meth:`start` until :meth:`close`;
    :meth:`handle` runs in a thread of its own for each accepted connection."""

    backlog = 64
    connections = 0  # accepted so far

    def start(self) -> Self:
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(self.backlog)
        self.port = int(self._sock.getsockname()[1])
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self._sock.close()

    def handle(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self.handle, args=(conn,), daemon=True).start()

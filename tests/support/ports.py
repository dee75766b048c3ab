"""Loopback ports for the servers tests start."""

from __future__ import annotations

import socket

__all__ = ["free_port"]


def free_port() -> int:
    """A currently unused TCP port on 127.0.0.1 (the kernel picks it).

    The port is released before it is returned, so another process could take it
    first; the servers that use it fail loudly at bind time if that ever happens.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])

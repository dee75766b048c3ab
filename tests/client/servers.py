"""The servers the client suite starts, each a context manager that waits until it
is ready and stops it afterwards (by its own pid, see :class:`ServerProcess`).

* :func:`running_demo` — ``python -m authgate.proxy.demo`` (echoes the headers it gets).
* :func:`running_proxy` — ``python -m authgate proxy --config FILE`` from a config document.
* :func:`running_quickstart` — ``python -m authgate quickstart``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from ..support.ports import free_port
from .client_harness import PYTHON, ServerProcess


@contextmanager
def serving(
    argv: Sequence[str], log_path: Path, ready_url: str, timeout: float = 30.0
) -> Iterator[ServerProcess]:
    proc = ServerProcess(argv, log_path).start()
    try:
        proc.wait_http(ready_url, timeout=timeout)
        yield proc
    finally:
        proc.stop()


@contextmanager
def running_demo(workdir: Path) -> Iterator[str]:
    """The demo upstream's URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [PYTHON, "-m", "authgate.proxy.demo", "--port", str(port)]
    with serving(argv, workdir / "demo.log", url + "/"):
        yield url


@contextmanager
def running_proxy(document: dict[str, Any], workdir: Path) -> Iterator[ServerProcess]:
    """The proxy with ``document`` as its config file, ready on its admin port."""
    config = workdir / "proxy.yaml"
    config.write_text(yaml.safe_dump(document))
    argv = [PYTHON, "-m", "authgate", "proxy", "--config", str(config)]
    ready = f"http://127.0.0.1:{document['admin']['port']}/readyz"
    with serving(argv, workdir / "proxy.log", ready, timeout=60) as proc:
        yield proc


def proxy_url(document: dict[str, Any]) -> str:
    """The base URL of the proxy that ``document`` configures."""
    return f"http://127.0.0.1:{document['listen']['port']}"


@contextmanager
def running_quickstart(workdir: Path) -> Iterator[str]:
    """The quickstart's URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [PYTHON, "-m", "authgate", "quickstart", "--port", str(port)]
    with serving(argv, workdir / "quickstart.log", url + "/apis/auth/discovery", timeout=60):
        yield url

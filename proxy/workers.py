"""Several worker processes that share memory, and one admin port that speaks for all of them.

``server.workers: N`` used to spawn N fresh interpreters, each importing
everything again (three full processes for N = 2).  Instead the supervisor
imports every module a worker needs *once*, freezes the garbage collector's
view of those objects (``gc.freeze()``, so collections do not write to
every object header and un-share the pages), and then ``fork()``\\ s the
workers before any event loop or thread exists.  Code objects, modules and
the parsed config stay shared copy-on-write; ``make bench`` reports the
tree's PSS (proportional set size, shared pages divided among the sharers),
which is what N workers actually cost the node.

Each worker binds the client port with ``SO_REUSEPORT`` (the kernel spreads
connections) and runs its own loop, key cache and token cache.  Only the
supervisor binds the admin port, and it answers for the pod:

* ``/readyz`` is 200 only when *every* worker reports ready and the
  supervisor is not draining — a pod is not Ready while one worker still
  loads keys;
* ``/metrics`` is every worker's exposition with a ``worker`` label added,
  so per-worker counters can be summed in PromQL (``sum without (worker)``);
* ``/healthz`` fails once a worker has died.

A worker that dies takes the pod down: the supervisor drains the others
and exits non-zero, so the kubelet restarts the container (rather than a
half-capacity pod that looks healthy).  SIGTERM/SIGINT to the supervisor
flips its readiness at once and is forwarded to every worker, which drain.

The supervisor talks to each worker over a ``socketpair``: one request byte
(``r`` readiness, ``m`` metrics), one length-prefixed answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import os
import signal
import socket
import struct
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

from .admin import Answer, json_answer, readiness_answer, start_admin
from .lifecycle import Lifecycle
from .metrics import CONTENT_TYPE

__all__ = ["merge_expositions", "serve_control", "supervise"]

log = logging.getLogger("authgate.proxy.workers")

_LENGTH = struct.Struct("!I")
QUERY_TIMEOUT = 2.0  # a worker that cannot answer a probe in this time is not ready
_REAP_INTERVAL = 0.2


# -- worker side ------------------------------------------------------------


async def serve_control(
    sock: socket.socket,
    readiness: Callable[[], tuple[bool, str | None]],
    exposition: Callable[[], bytes],
) -> None:
    """Answer the supervisor's queries until it goes away (runs in a worker)."""
    reader, writer = await asyncio.open_connection(sock=sock)
    try:
        while query := await reader.read(1):
            if query == b"r":
                ready, reason = readiness()
                payload = json.dumps({"ready": ready, "reason": reason}).encode()
            elif query == b"m":
                payload = exposition()
            else:
                payload = b""
            writer.write(_LENGTH.pack(len(payload)) + payload)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


# -- supervisor side --------------------------------------------------------


@dataclass
class _Worker:
    """The supervisor's view of one worker and its control channel.

    Answers come back in the order queries were sent, so one reader task
    resolves a FIFO of futures; a query that times out leaves its future in
    the queue (its late answer is read and dropped), so a worker that was
    briefly slow is asked again normally next time."""

    index: int
    pid: int
    sock: socket.socket
    exitcode: int | None = None
    writer: asyncio.StreamWriter | None = None
    pending: deque[asyncio.Future[bytes]] = field(default_factory=deque)
    reader_task: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        reader, self.writer = await asyncio.open_connection(sock=self.sock)
        self.reader_task = asyncio.get_running_loop().create_task(self._read(reader))

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                (size,) = _LENGTH.unpack(await reader.readexactly(_LENGTH.size))
                payload = await reader.readexactly(size)
                if self.pending:
                    future = self.pending.popleft()
                    if not future.done():
                        future.set_result(payload)
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            self.writer = None  # the worker is gone: every later query gets no answer
            while self.pending:
                self.pending.popleft().cancel()

    async def query(self, what: bytes) -> bytes | None:
        if self.exitcode is not None or self.writer is None:
            return None
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self.pending.append(future)
        try:
            self.writer.write(what)
            async with asyncio.timeout(QUERY_TIMEOUT):
                return await asyncio.shield(future)
        except (TimeoutError, OSError, asyncio.CancelledError):
            return None

    def close(self) -> None:
        if self.reader_task is not None:
            self.reader_task.cancel()
        if self.writer is not None:
            self.writer.close()


class _Families(Collector):
    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterator[Metric]:
        return iter(self._families)


def merge_expositions(texts: list[tuple[str, bytes]]) -> bytes:
    """One exposition from several, each sample labelled ``worker="<name>"``
    (families merged by name, so each appears once with its HELP/TYPE)."""
    families: dict[str, Metric] = {}
    for worker, text in texts:
        for family in text_string_to_metric_families(text.decode("utf-8")):
            merged = families.get(family.name)
            if merged is None:
                merged = families[family.name] = Metric(
                    family.name, family.documentation, family.type, family.unit
                )
            for sample in family.samples:
                merged.samples.append(sample._replace(labels={**sample.labels, "worker": worker}))
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(list(families.values())))
    return generate_latest(registry)


def _handlers(workers: list[_Worker], lifecycle: Lifecycle) -> dict[str, Any]:
    async def healthz() -> Answer:
        dead = [w.index for w in workers if w.exitcode is not None]
        if dead and not lifecycle.draining:
            return json_answer(503, {"status": "worker_exited", "workers": dead})
        return json_answer(200, {"status": "ok"})

    async def readyz() -> Answer:
        if lifecycle.draining:
            return readiness_answer(False, "draining")
        answers = await asyncio.gather(*(w.query(b"r") for w in workers))
        states = []
        for worker, raw in zip(workers, answers, strict=True):
            state: dict[str, Any] = {"ready": False, "reason": "no_answer"}
            if raw is not None:
                with contextlib.suppress(ValueError):
                    state = json.loads(raw)
            states.append({"worker": worker.index, **state})
        not_ready = [s for s in states if not s.get("ready")]
        if not not_ready:
            return json_answer(200, {"ready": True, "workers": states})
        first = not_ready[0]
        reason = f"worker {first['worker']}: {first.get('reason')}"
        return json_answer(503, {"ready": False, "reason": reason, "workers": states})

    async def metrics() -> Answer:
        answers = await asyncio.gather(*(w.query(b"m") for w in workers))
        texts = [(str(w.index), raw) for w, raw in zip(workers, answers, strict=True) if raw]
        return 200, CONTENT_TYPE, merge_expositions(texts)

    return {"/healthz": healthz, "/readyz": readyz, "/metrics": metrics}


async def _run_supervisor(host: str, port: int, workers: list[_Worker], drain: float) -> int:
    lifecycle = Lifecycle()
    lifecycle.install_signal_handlers()
    for worker in workers:
        await worker.connect()
    admin = await start_admin(host, port, _handlers(workers, lifecycle))
    log.info(
        "workers started",
        extra={"workers": len(workers), "admin_port": admin.port, "pids": [w.pid for w in workers]},
    )
    code = 0
    try:
        while not lifecycle.stop_requested.is_set():
            _reap(workers)
            died = [w for w in workers if w.exitcode is not None]
            if died:
                first = died[0]
                log.error(
                    "a worker exited; stopping the others",
                    extra={"worker": first.index, "exitcode": first.exitcode},
                )
                lifecycle.draining = True
                code = first.exitcode or 1
                break
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(_REAP_INTERVAL):
                    await lifecycle.stop_requested.wait()
        _signal_all(workers, signal.SIGTERM)
        deadline = time.monotonic() + drain + 5.0
        while any(w.exitcode is None for w in workers):
            if time.monotonic() > deadline:
                _signal_all(workers, signal.SIGKILL)
            await asyncio.sleep(_REAP_INTERVAL)
            _reap(workers)
        return code or max(w.exitcode or 0 for w in workers)
    finally:
        await admin.close()
        for worker in workers:
            worker.close()


def _reap(workers: list[_Worker]) -> None:
    for worker in workers:
        if worker.exitcode is not None:
            continue
        try:
            pid, status = os.waitpid(worker.pid, os.WNOHANG)
        except ChildProcessError:
            worker.exitcode = 1
            continue
        if pid:
            code = os.waitstatus_to_exitcode(status)
            worker.exitcode = 128 - code if code < 0 else code  # killed by a signal: 128+n


def _signal_all(workers: list[_Worker], signum: int) -> None:
    for worker in workers:
        if worker.exitcode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(worker.pid, signum)


def supervise(
    count: int,
    *,
    admin_host: str,
    admin_port: int,
    drain_seconds: float,
    preload: Callable[[], None],
    child: Callable[[int, socket.socket], int],
    run: Callable[[Any], Any],
) -> int:
    """Import once (``preload``), fork ``count`` workers (each runs
    ``child(index, control_socket)`` and exits with its result), then serve
    the pod's admin port until they are gone (``run`` runs a coroutine)."""
    preload()
    gc.collect()
    gc.freeze()  # objects that exist now are never traversed again: their pages stay shared
    workers: list[_Worker] = []
    for index in range(count):
        ours, theirs = socket.socketpair()
        pid = os.fork()
        if pid == 0:  # the worker
            code = 1
            try:
                ours.close()
                for other in workers:
                    other.sock.close()
                code = child(index, theirs)
            except BaseException:
                log.exception("worker failed", extra={"worker": index})
            finally:
                logging.shutdown()
                os._exit(code)
        theirs.close()
        workers.append(_Worker(index, pid, ours))
    result: int = run(_run_supervisor(admin_host, admin_port, workers, drain_seconds))
    return result

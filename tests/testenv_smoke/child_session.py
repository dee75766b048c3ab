"""A child pytest session, for the smokes that prove teardown leaves nothing behind.

A teardown can only be checked from outside the session that tears down: the
teardown smokes start one test in a child pytest (its own basetemp, so every
process it starts names a path of its own), wait until the component under test
runs, end the child normally or with SIGTERM, and then look for leftovers.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from tests.support.processes import child_pytest
from tests.testenv.node_cleanup import processes_mentioning

#: How often the parent looks for the child's processes.
POLL_SECONDS = 0.5


def run_child(target: str, basetemp: Path, timeout: float) -> str:
    """Run the child to its end; it must pass. Returns its output."""
    proc = child_pytest(target, basetemp)
    output, _ = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, output
    assert "1 passed" in output, output
    return output


def terminate_child_once(
    target: str, basetemp: Path, needle: Path, marker: str, *, wait: float, grace: float = 0.0
) -> str:
    """Start the child, SIGTERM it once a process mentioning ``needle`` whose command line
    holds ``marker`` runs (and ``grace`` seconds more), and return its output."""
    proc = child_pytest(target, basetemp)
    try:
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            running = processes_mentioning([str(needle)], exclude=[proc.pid])
            if any(marker in p for p in running):
                break
            if proc.poll() is not None:
                pytest.fail(f"child exited early:\n{proc.stdout.read() if proc.stdout else ''}")
            time.sleep(POLL_SECONDS)
        else:
            pytest.fail(f"no {marker} started in the child session within {wait:.0f}s")
        time.sleep(grace)
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    return output

"""CPU time and memory of a contender, read from ``/proc`` for its whole process tree.

A contender may be several processes (authgate with N workers and a
supervisor; nginx with a master and workers), so figures are summed over the
tree rooted at the process we started.  CPU is ``utime + stime``
(proc(5)); memory is the resident set (``VmRSS``) summed over the tree, and
its anonymous part (``RssAnon``: heap and stacks, i.e. what is not shared
file-backed code such as libpython or the Go binary's text).

RSS summed over several processes counts every shared page once per process,
so for a multi-process contender (authgate's forked workers, nginx's master
and workers) it overstates what the node pays.  ``Pss`` from
``/proc/PID/smaps_rollup`` divides each shared page among the processes
mapping it; summed over the tree it is the tree's real share of memory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["TreeStats", "tree_pids", "tree_stats"]

_TICKS = os.sysconf("SC_CLK_TCK")


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        kids.setdefault(ppid, []).append(int(entry.name))
    return kids


def tree_pids(root: int) -> list[int]:
    kids = _children()
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(kids.get(pid, ()))
    return out


@dataclass(frozen=True)
class TreeStats:
    cpu_seconds: float
    rss_bytes: int
    anon_bytes: int
    processes: int
    pss_bytes: int = 0


def tree_stats(root: int) -> TreeStats:
    cpu = 0.0
    rss = 0
    anon = 0
    pss = 0
    count = 0
    for pid in tree_pids(root):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        cpu += (int(fields[11]) + int(fields[12])) / _TICKS
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                rss += int(line.split()[1]) * 1024
            elif line.startswith("RssAnon:"):
                anon += int(line.split()[1]) * 1024
        pss += _pss(pid)
        count += 1
    return TreeStats(cpu, rss, anon, count, pss)


def _pss(pid: int) -> int:
    try:
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:  # not readable (another user's process) or gone
        return 0
    for line in rollup.splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) * 1024
    return 0

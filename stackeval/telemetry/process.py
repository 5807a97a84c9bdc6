"""CPU and RSS of given processes and their children (the inference servers) via psutil."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import psutil

from stackeval.telemetry.source import SourceUnavailable

log = logging.getLogger(__name__)

_MIB = 1024 * 1024
_GONE = (psutil.NoSuchProcess, psutil.AccessDenied)


@dataclass
class _Tree:
    """One watched process and the cached handles of its descendants."""

    label: str
    root: psutil.Process
    members: dict[int, psutil.Process] = field(default_factory=dict)


def _labelled(pids: Sequence[int] | Mapping[str, int]) -> dict[str, int]:
    if isinstance(pids, Mapping):
        return dict(pids)
    return {f"pid{pid}": pid for pid in pids}


class ProcessSource:
    """Per watched pid: CPU % (of one core, so it can pass 100) and RSS, summed over its tree.

    ``pids`` is a list of pids (labelled ``pid<N>``) or a ``{label: pid}`` mapping. A process
    that exits is logged once and dropped; the other readings go on.
    """

    name = "process"

    def __init__(
        self, pids: Sequence[int] | Mapping[str, int], children_refresh_s: float = 1.0
    ) -> None:
        self.pids = _labelled(pids)
        # Listing children scans every /proc entry, so it runs far less often than reads.
        self.children_refresh_s = children_refresh_s
        self._trees: list[_Tree] = []
        self._next_refresh = 0.0

    def open(self) -> None:
        """Find the processes and prime their CPU counters."""
        missing = []
        for label, pid in self.pids.items():
            try:
                root = psutil.Process(pid)
                root.cpu_percent(interval=None)
            except _GONE as exc:
                missing.append(f"{label} ({type(exc).__name__})")
                continue
            self._trees.append(_Tree(label, root, {pid: root}))
        if not self._trees:
            raise SourceUnavailable(f"no watched process is running: {', '.join(missing)}")
        if missing:
            log.info("process telemetry skips processes not found: %s", ", ".join(missing))
        self._refresh_children()

    def read(self) -> dict[str, float]:
        """Take one reading."""
        if time.perf_counter() >= self._next_refresh:
            self._refresh_children()
        out: dict[str, float] = {}
        for tree in list(self._trees):
            if not _alive(tree.root):
                log.info(
                    "watched process %s (pid %d) exited; dropping it", tree.label, tree.root.pid
                )
                self._trees.remove(tree)
                continue
            cpu = rss = 0.0
            for pid, proc in list(tree.members.items()):
                try:
                    with proc.oneshot():
                        cpu += proc.cpu_percent(interval=None)
                        rss += proc.memory_info().rss
                except _GONE:
                    del tree.members[pid]  # a child that exited; normal churn
            out[f"proc.{tree.label}.cpu_percent"] = cpu
            out[f"proc.{tree.label}.rss_mib"] = rss / _MIB
        return out

    def close(self) -> None:
        """Forget the handles."""
        self._trees.clear()

    def _refresh_children(self) -> None:
        self._next_refresh = time.perf_counter() + self.children_refresh_s
        for tree in self._trees:
            try:
                children = tree.root.children(recursive=True)
            except _GONE:
                continue  # read() notices the root is gone
            for child in children:
                if child.pid not in tree.members:
                    try:
                        child.cpu_percent(interval=None)  # prime: the first call returns 0.0
                    except _GONE:
                        continue
                    tree.members[child.pid] = child


def _alive(proc: psutil.Process) -> bool:
    # An exited but unreaped child is a zombie: /proc still answers, with zeros.
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except _GONE:
        return False

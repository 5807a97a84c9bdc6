"""CPU and RSS of given processes and their children (the inference servers).

On Linux the counters come from ``/proc/<pid>/stat`` kept open (:mod:`.procfs`); elsewhere from
psutil. CPU % is the tree's CPU time between two readings over the wall time between them, so
a process (or a child) seen for the first time only contributes from its second reading on: its
first reading has no interval, and a ratio over a few microseconds is what once reported "525%"
on a 2-core machine when a model server started.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import psutil

from stackeval.telemetry import procfs
from stackeval.telemetry.source import SourceUnavailable

log = logging.getLogger(__name__)

_MIB = 1024 * 1024
_GONE = (psutil.NoSuchProcess, psutil.AccessDenied)
_MIN_INTERVAL_S = 0.001  # a CPU % over less wall time than this is noise, not a reading


class _Proc:
    """One process's cumulative CPU seconds and current RSS."""

    __slots__ = ("pid", "_file", "_ps")

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._file: procfs.ProcFile | None = None
        self._ps: psutil.Process | None = None
        try:
            if procfs.AVAILABLE:
                self._file = procfs.ProcFile(f"/proc/{pid}/stat", 1024)
            else:
                self._ps = psutil.Process(pid)
        except (FileNotFoundError, ProcessLookupError) as exc:
            raise psutil.NoSuchProcess(pid) from exc
        except PermissionError as exc:
            raise psutil.AccessDenied(pid) from exc
        if self.read() is None:
            self.close()
            raise psutil.NoSuchProcess(pid)

    def read(self) -> tuple[float, int] | None:
        """(CPU seconds, RSS bytes), or None once the process has exited (zombies included)."""
        if self._file is not None:
            try:
                state, cpu_s, rss = procfs.parse_pid_stat(self._file.read())
            except (OSError, ValueError, IndexError):
                return None
            return None if state in (b"Z", b"X") else (cpu_s, rss)
        assert self._ps is not None
        try:
            with self._ps.oneshot():
                if self._ps.status() == psutil.STATUS_ZOMBIE:
                    return None
                t = self._ps.cpu_times()
                return t.user + t.system, self._ps.memory_info().rss
        except _GONE:
            return None

    def children(self) -> list[int]:
        """Pids of the direct children."""
        if self._file is not None and procfs.has_children_files():
            return procfs.children(self.pid)
        try:
            return [c.pid for c in psutil.Process(self.pid).children()]
        except _GONE:
            return []

    def close(self) -> None:
        """Release the open file."""
        if self._file is not None:
            self._file.close()


@dataclass
class _Tree:
    """One watched process and its descendants, with each member's CPU seconds last read."""

    label: str
    root: _Proc
    with_children: bool = True
    members: dict[int, _Proc] = field(default_factory=dict)
    last_cpu: dict[int, float] = field(default_factory=dict)
    last_t: float | None = None

    def read(self, now: float) -> tuple[float | None, float] | None:
        """(CPU % since the last reading or None on the first, RSS MiB), None once it exited."""
        first = self.root.read()
        if first is None:
            return None
        cpu_s = 0.0
        rss = 0
        seen: dict[int, float] = {}
        for pid, proc in list(self.members.items()):
            reading = first if proc is self.root else proc.read()
            if reading is None:  # a child that exited; normal churn
                proc.close()
                del self.members[pid]
                continue
            seen[pid] = reading[0]
            rss += reading[1]
            if pid in self.last_cpu:  # a member's first reading has no interval yet
                cpu_s += reading[0] - self.last_cpu[pid]
        cpu = None
        if self.last_t is not None and now - self.last_t >= _MIN_INTERVAL_S:
            cpu = max(0.0, cpu_s) / (now - self.last_t) * 100.0
        self.last_cpu, self.last_t = seen, now
        return cpu, rss / _MIB

    def refresh(self) -> None:
        """Add descendants started since the last refresh."""
        if not self.with_children:
            return
        todo = [self.root.pid]
        found = set()
        while todo:
            pid = todo.pop()
            member = self.members.get(pid)
            kids = member.children() if member is not None else []
            for kid in kids:
                if kid in found:
                    continue
                found.add(kid)
                todo.append(kid)
                if kid not in self.members:
                    try:
                        self.members[kid] = _Proc(kid)
                    except _GONE:
                        continue

    def close(self) -> None:
        """Close every member's file."""
        for proc in self.members.values():
            proc.close()
        self.members.clear()


def _labelled(pids: Sequence[int] | Mapping[str, int]) -> dict[str, int]:
    if isinstance(pids, Mapping):
        return dict(pids)
    return {f"pid{pid}": pid for pid in pids}


class ProcessSource:
    """Per watched pid: CPU % (of one core, so it can pass 100) and RSS, summed over its tree.

    ``pids`` is a list of pids (labelled ``pid<N>``) or a ``{label: pid}`` mapping. A process
    that exits is logged once and dropped; the other readings go on. :meth:`update` changes the
    watched set while sampling; a process added that way has no CPU % on its first reading.
    ``with_children=False`` watches the processes alone (e.g. a harness whose children are the
    servers, watched on their own).
    """

    name = "process"

    def __init__(
        self, pids: Sequence[int] | Mapping[str, int], children_refresh_s: float = 1.0,
        *, with_children: bool = True,
    ) -> None:
        self.pids = _labelled(pids)
        # Finding children reads a file per thread, so it runs far less often than reads.
        self.children_refresh_s = children_refresh_s
        self.with_children = with_children
        self._trees: list[_Tree] = []
        self._next_refresh = 0.0

    def open(self) -> None:
        """Find the processes and take the first reading, so the first sample has CPU %."""
        missing = self._add(self.pids)
        if not self._trees:
            raise SourceUnavailable(f"no watched process is running: {', '.join(missing)}")
        if missing:
            log.info("process telemetry skips processes not found: %s", ", ".join(missing))
        self._refresh_children()
        now = time.monotonic()
        for tree in self._trees:
            tree.read(now)

    def update(self, pids: Mapping[str, int]) -> None:
        """Watch this set from now on: trees kept where label and pid are unchanged."""
        keep = []
        for tree in self._trees:
            if pids.get(tree.label) == tree.root.pid:
                keep.append(tree)
            else:
                tree.close()
        self._trees = keep
        have = {t.label for t in keep}
        self.pids = dict(pids)
        missing = self._add({k: v for k, v in pids.items() if k not in have})
        if missing:
            log.debug("process telemetry: not running (yet): %s", ", ".join(missing))
        if len(self._trees) > len(keep):
            self._next_refresh = 0.0  # find the new trees' children on the next read

    def read(self) -> dict[str, float]:
        """Take one reading."""
        now = time.monotonic()
        if now >= self._next_refresh:
            self._refresh_children()
        out: dict[str, float] = {}
        for tree in list(self._trees):
            reading = tree.read(now)
            if reading is None:
                log.info("watched process %s (pid %d) exited; dropping it", tree.label,
                         tree.root.pid)
                tree.close()
                self._trees.remove(tree)
                continue
            cpu, rss = reading
            if cpu is not None:
                out[f"proc.{tree.label}.cpu_percent"] = cpu
            out[f"proc.{tree.label}.rss_mib"] = rss
        return out

    def close(self) -> None:
        """Forget the processes and close their files."""
        for tree in self._trees:
            tree.close()
        self._trees.clear()

    @property
    def watching(self) -> dict[str, int]:
        """``{label: pid}`` of the processes watched now."""
        return {t.label: t.root.pid for t in self._trees}

    def _add(self, pids: Mapping[str, int]) -> list[str]:
        missing = []
        for label, pid in pids.items():
            try:
                root = _Proc(pid)
            except _GONE as exc:
                missing.append(f"{label} ({type(exc).__name__})")
                continue
            self._trees.append(_Tree(label, root, self.with_children, {pid: root}))
        return missing

    def _refresh_children(self) -> None:
        self._next_refresh = time.monotonic() + self.children_refresh_s
        for tree in self._trees:
            tree.refresh()

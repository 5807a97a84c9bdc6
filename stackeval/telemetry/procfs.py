"""Lean Linux ``/proc`` readers for the sampler's hot path.

psutil opens, reads and closes several files per reading and builds Python objects for every
field; at 10 Hz that alone cost about 1% of a core. Here each file is opened once and re-read
from offset 0 with a single ``pread``, and only the few fields the sampler records are parsed.
An open ``/proc/<pid>/stat`` also pins the process it was opened for: once that process has
exited, reads fail with ESRCH even if the pid is reused. Elsewhere (no ``/proc``), callers
fall back to psutil.
"""

from __future__ import annotations

import functools
import os
import sys

AVAILABLE = sys.platform.startswith("linux") and os.path.exists("/proc/self/stat")
CLK_TCK = os.sysconf("SC_CLK_TCK") if AVAILABLE else 100
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if AVAILABLE else 4096


class ProcFile:
    """A ``/proc`` file kept open and read whole with one ``pread`` per reading."""

    __slots__ = ("fd", "size")

    def __init__(self, path: str, size: int = 4096) -> None:
        self.fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        self.size = size

    def read(self) -> bytes:
        """The file's current content (raises OSError once a process file's process is gone)."""
        return os.pread(self.fd, self.size, 0)

    def close(self) -> None:
        """Release the descriptor."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def parse_pid_stat(data: bytes) -> tuple[bytes, float, int]:
    """(state, CPU seconds user + system, RSS bytes) from ``/proc/<pid>/stat``."""
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    fields = data[data.rindex(b")") + 2:].split()
    # fields[0] is field 3 (state); utime and stime are fields 14 and 15, rss (pages) is 24.
    return fields[0], (int(fields[11]) + int(fields[12])) / CLK_TCK, int(fields[21]) * PAGE_SIZE


def parse_cpu_line(data: bytes) -> tuple[float, float]:
    """(busy, total) CPU seconds from the first line of ``/proc/stat``, counted as psutil does:
    guest time is already inside user time, and idle plus iowait are not busy."""
    values = [int(v) for v in data[: data.index(b"\n")].split()[1:]]
    values += [0] * (10 - len(values))
    user, nice, system, idle, iowait, irq, softirq, steal = values[:8]
    total = user + nice + system + idle + iowait + irq + softirq + steal
    return (total - idle - iowait) / CLK_TCK, total / CLK_TCK


def parse_meminfo(data: bytes) -> tuple[int, int, int] | None:
    """(total, free, available) bytes from ``/proc/meminfo``; None when MemAvailable is
    missing or zero (old kernels, a kernel bug), where psutil's estimate is needed."""
    out = []
    for key in (b"MemTotal:", b"MemFree:", b"MemAvailable:"):
        start = data.find(key)
        if start < 0:
            return None
        out.append(int(data[start + len(key): data.index(b"kB", start)]) * 1024)
    total, free, avail = out
    if avail <= 0:
        return None
    return total, free, avail if avail <= total else free  # > total: a container's view


def children(pid: int) -> list[int]:
    """Direct children of a process, from each of its threads' ``children`` file."""
    out: list[int] = []
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", "rb") as f:
                out.extend(int(c) for c in f.read().split())
        except OSError:
            continue  # the thread ended meanwhile
    return out


@functools.cache
def has_children_files() -> bool:
    """True when the kernel provides ``/proc/<pid>/task/<tid>/children`` (CONFIG_PROC_CHILDREN)."""
    return AVAILABLE and os.path.exists(f"/proc/self/task/{os.getpid()}/children")

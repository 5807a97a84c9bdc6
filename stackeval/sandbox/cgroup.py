"""One memory limit for all processes of a sandbox run, and a way to end every one of them.

A run's processes go into a control group of their own, made under the harness's own group:

1. **cgroup v2** with the memory controller (a unified host as root, or a delegated subtree):
   ``memory.max`` and ``memory.swap.max=0`` for the whole run; ``cgroup.kill`` ends it.
2. **cgroup v1** memory controller (hybrid hosts, such as this project's CI machines, where the
   unified hierarchy has no memory controller): ``memory.limit_in_bytes`` (and ``memsw``);
   the members of ``cgroup.procs`` are SIGKILLed until it is empty.
3. **None** of these (no cgroup file system, or no right to make a group there): each process
   still has its own ``RLIMIT_AS`` of the same size, and ``run_process`` samples the resident
   memory of the run's processes every 100 ms and kills the run above the limit. Weakness of
   this fallback: a burst between two samples can briefly exceed the limit (each process by at
   most its RLIMIT_AS), and files in the run's tmpfs mounts belong to no process, so they are
   bounded only by the tmpfs sizes (3 x ``tmpfs_mb``), not by the memory limit.

With a group, tmpfs pages written by the run (/work, /tmp, /dev/shm) are charged to it too.
"""

from __future__ import annotations

import errno
import itertools
import logging
import os
import signal
import threading
import time
from pathlib import Path

log = logging.getLogger(__name__)

_PREFIX = "stackeval-"
_counter = itertools.count()
_lock = threading.Lock()
_parents: dict[int, Path | None] = {}  # cgroup version -> where run groups go (None: unusable)
_swept: set[Path] = set()


class RunGroup:
    """The control group of one run."""

    def __init__(self, path: Path, version: int) -> None:
        self.path = path
        self.version = version

    def __repr__(self) -> str:
        return f"RunGroup({self.path}, v{self.version})"

    def enter_argv(self) -> list[str]:
        """A command prefix that moves itself into this group, then execs the command."""
        return ["sh", "-c", 'echo $$ >"$0" && exec "$@"', str(self.path / "cgroup.procs")]

    def pids(self) -> list[int]:
        """Processes in the group now."""
        try:
            text = (self.path / "cgroup.procs").read_text()
        except OSError:
            return []
        return [int(line) for line in text.split()]

    def oom_kills(self) -> int:
        """How many processes of the run the kernel killed for exceeding the memory limit."""
        name = "memory.events" if self.version == 2 else "memory.oom_control"
        try:
            for line in (self.path / name).read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        except (OSError, ValueError):
            pass
        return 0

    def kill(self, timeout_s: float = 5.0) -> bool:
        """SIGKILL every process of the group; True once the group is empty."""
        if self.version == 2:
            try:
                (self.path / "cgroup.kill").write_text("1")
            except OSError:  # before Linux 5.14: kill them one by one below
                pass
        deadline = time.monotonic() + timeout_s
        while True:
            pids = self.pids()
            if not pids:
                return True
            if time.monotonic() > deadline:
                log.warning("processes %s of %s outlived SIGKILL", pids, self)
                return False
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            time.sleep(0.005)

    def remove(self) -> None:
        """Delete the (empty) group; retried briefly while the kernel releases exited tasks."""
        for _ in range(200):
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError as exc:
                if exc.errno != errno.EBUSY:
                    break
                time.sleep(0.005)
        log.warning("could not remove %s", self.path)


def create(memory_bytes: int) -> RunGroup | None:
    """A new group limited to ``memory_bytes`` for one run, or None where the host allows none."""
    for version in (2, 1):
        parent = _parent(version)
        if parent is None:
            continue
        with _lock:
            path = parent / f"{_PREFIX}{os.getpid()}-{next(_counter)}"
        try:
            path.mkdir()
        except OSError as exc:
            log.info("cannot make cgroup v%d groups in %s: %s", version, parent, exc)
            _parents[version] = None
            continue
        group = RunGroup(path, version)
        try:
            _limit(group, memory_bytes)
        except OSError as exc:
            log.info("cannot limit memory with cgroup v%d in %s: %s", version, parent, exc)
            group.remove()
            _parents[version] = None
            continue
        return group
    return None


def mechanism() -> str:
    """What limits a run's memory on this host: ``cgroup2``, ``cgroup1`` or ``rlimit``."""
    group = create(64 * 1024 * 1024)
    if group is None:
        return "rlimit"
    group.remove()
    return f"cgroup{group.version}"


def _limit(group: RunGroup, memory_bytes: int) -> None:
    if group.version == 2:
        (group.path / "memory.max").write_text(str(memory_bytes))
        swap = group.path / "memory.swap.max"
        if swap.exists():
            swap.write_text("0")
        return
    (group.path / "memory.limit_in_bytes").write_text(str(memory_bytes))
    memsw = group.path / "memory.memsw.limit_in_bytes"
    if memsw.exists():  # only with swap accounting; without it swap is not limited
        try:
            memsw.write_text(str(memory_bytes))
        except OSError:
            pass


def _parent(version: int) -> Path | None:
    """Where this process may make memory-limited groups, found once per process."""
    if version in _parents:
        return _parents[version]
    try:
        parent = _find_v2() if version == 2 else _find_v1()
    except OSError as exc:
        log.debug("no cgroup v%d here: %s", version, exc)
        parent = None
    _parents[version] = parent
    if parent is not None:
        _sweep(parent)
    return parent


def _mounts(fstype: str) -> list[tuple[str, str, str]]:
    """(root, mount point, super options) of every mount of ``fstype``."""
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        left, _, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if len(fields) >= 5 and len(tail) >= 3 and tail[0] == fstype:
            found.append((fields[3], _unescape(fields[4]), tail[2]))
    return found


def _own(match: str) -> str | None:
    """This process's path in the hierarchy whose /proc/self/cgroup line matches ``match``."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if match == "" and controllers == "" and line.startswith("0::"):
            return path
        if match and match in controllers.split(","):
            return path
    return None


def _under(mount_root: str, mount_point: str, path: str) -> Path:
    rel = path[len(mount_root) :] if path.startswith(mount_root) else path
    return Path(mount_point) / rel.lstrip("/")


def _find_v2() -> Path | None:
    own = _own("")
    if own is None:
        return None
    for root, point, _ in _mounts("cgroup2"):
        here = _under(root, point, own)
        # our own group when memory is delegated to its children, else the hierarchy's root
        for parent in (here, Path(point)):
            if _memory_for_children(parent):
                return parent
    return None


def _memory_for_children(parent: Path) -> bool:
    try:
        if "memory" not in (parent / "cgroup.controllers").read_text().split():
            return False
        control = parent / "cgroup.subtree_control"
        if "memory" not in control.read_text().split():
            control.write_text("+memory")  # EBUSY where the group has processes of its own
        return os.access(parent, os.W_OK)
    except OSError:
        return False


def _find_v1() -> Path | None:
    own = _own("memory")
    if own is None:
        return None
    for root, point, options in _mounts("cgroup"):
        if "memory" in options.split(","):
            parent = _under(root, point, own)
            if (parent / "memory.limit_in_bytes").exists() and os.access(parent, os.W_OK):
                return parent
    return None


def _sweep(parent: Path) -> None:
    """Remove empty groups that harness processes which are gone left behind."""
    if parent in _swept:
        return
    _swept.add(parent)
    try:
        entries = list(parent.glob(f"{_PREFIX}*-*"))
    except OSError:
        return
    for entry in entries:
        pid = entry.name[len(_PREFIX) :].split("-", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not Path(f"/proc/{pid}").exists():
            try:
                entry.rmdir()
            except OSError:
                pass


def _unescape(field: str) -> str:
    """Mount points in mountinfo escape space, tab, newline and backslash as octal."""
    return (
        field.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n")
        .replace("\\134", "\\")
    )

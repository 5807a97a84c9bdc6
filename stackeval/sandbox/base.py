"""The sandbox interface: limits, the result of one run, and the abstract ``Sandbox``."""

from __future__ import annotations

import abc
import os
import shutil
import stat
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from stackeval.errors import SandboxError

Files = Mapping[str, "bytes | str"]


@dataclass(frozen=True)
class Limits:
    """Resource limits applied to every run of one sandbox."""

    # all processes of a run together (cgroup, container memory), tmpfs pages included; each
    # process also gets it as its address space (RLIMIT_AS), so Python sees a MemoryError
    memory_mb: int = 1024
    processes: int = 64  # tasks, threads included (RLIMIT_NPROC or pids_limit)
    file_size_mb: int = 64  # largest file the code may write (RLIMIT_FSIZE)
    tmpfs_mb: int = 128  # size of each of /work, /tmp and /dev/shm (size-limited tmpfs)
    open_files: int = 256
    cpus: float = 1.0  # container CPU share (nano_cpus)
    output_bytes: int = 64 * 1024  # kept per stream: first and last halves
    output_kill_bytes: int = 8 * 1024 * 1024  # a run printing more than this is killed


@dataclass(frozen=True)
class ExecResult:
    """What one sandboxed command did."""

    exit_code: int | None  # None when the sandbox killed it
    stdout: str
    stderr: str
    timed_out: bool
    duration_s: float
    # timeout | output_limit | cpu_limit | file_size_limit | memory_limit | signal:NAME
    killed_reason: str | None = None
    truncated: bool = False  # stdout or stderr lost bytes in the middle

    @property
    def ok(self) -> bool:
        """Exited by itself with status 0."""
        return self.exit_code == 0 and self.killed_reason is None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


class Sandbox(abc.ABC):
    """Runs untrusted commands in a fresh, throwaway work directory.

    Every backend gives a run: ``files`` in a writable /work (its working directory), optional
    ``harness`` files under a read-only /harness (drivers and test runners the code under test
    must not rewrite), a size-limited /work, /tmp and /dev/shm, one memory limit for all of the
    run's processes, and ``run()`` returns only once every process of the run is gone.
    """

    name: str = "abstract"

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()

    @abc.abstractmethod
    def run(
        self,
        files: Files,
        argv: Sequence[str],
        *,
        timeout_s: float,
        stdin: bytes | None = None,
        harness: Files | None = None,
        keep_stdout: bool = False,
    ) -> ExecResult:
        """Write ``files`` into an empty work dir, run ``argv`` there, and throw the dir away.

        ``harness`` files appear read-only under /harness. ``keep_stdout`` keeps all of stdout
        (up to ``limits.output_kill_bytes``) instead of its head and tail: for runs whose stdout
        is data the harness parses, not a log.
        """

    def memory_scope(self) -> str:
        """What enforces ``limits.memory_mb`` for a whole run here, for the run's metadata:
        ``container``, ``cgroup2``, ``cgroup1`` or ``rlimit`` (per process, plus a sampled
        total: see ``stackeval.sandbox.cgroup``)."""
        from stackeval.sandbox import cgroup

        return cgroup.mechanism()

    def probe(self) -> None:
        """Raise ``SandboxError`` unless this sandbox can run a trivial command here."""
        result = self.run({}, ["true"], timeout_s=30)
        if not result.ok:
            raise SandboxError(
                f"{self.name} sandbox cannot run `true`: {result.stderr.strip()[:500]}"
            )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(limits={self.limits})"


HARNESS_DIR = "/harness"


def checked_path(name: str) -> PurePosixPath:
    """``name`` as a relative path that stays inside its root, else ``SandboxError``."""
    rel = PurePosixPath(name)
    if rel.is_absolute() or not rel.parts or ".." in rel.parts or "\0" in name:
        raise SandboxError(f"refusing to write {name!r}: sandbox files need a relative path")
    return rel


def file_mode(data: bytes) -> int:
    """0755 for ``#!`` scripts, 0644 for everything else."""
    return 0o755 if data.startswith(b"#!") else 0o644


def write_files(root: Path, files: Files) -> list[Path]:
    """Write ``files`` (relative POSIX paths) under ``root``; ``#!`` scripts get +x."""
    written = []
    root.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        rel = checked_path(name)
        data = content.encode() if isinstance(content, str) else content
        path = root.joinpath(*rel.parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        path.chmod(file_mode(data))
        written.append(path)
    return written


def remove_tree(path: Path) -> None:
    """Delete a work dir even where the sandboxed code removed permissions from it."""

    def fix_and_retry(func: Any, target: str, _exc: Any) -> None:
        # sandboxed code may chmod 000 its own dirs; the harness still owns them
        parent = os.path.dirname(target)
        for p in (parent, target):
            try:
                os.chmod(p, stat.S_IRWXU)
            except OSError:
                pass
        func(target)

    shutil.rmtree(path, onerror=fix_and_retry)

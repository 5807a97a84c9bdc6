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

    memory_mb: int = 1024  # address space (RLIMIT_AS) or container memory
    processes: int = 64  # tasks, threads included (RLIMIT_NPROC or pids_limit)
    file_size_mb: int = 64  # largest file the code may write (RLIMIT_FSIZE)
    tmpfs_mb: int = 128  # size of /tmp (and of /work in a container)
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
    """Runs untrusted commands in a fresh, throwaway work directory."""

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
    ) -> ExecResult:
        """Write ``files`` into an empty work dir, run ``argv`` there, and throw the dir away."""

    def probe(self) -> None:
        """Raise ``SandboxError`` unless this sandbox can run a trivial command here."""
        result = self.run({}, ["true"], timeout_s=30)
        if not result.ok:
            raise SandboxError(
                f"{self.name} sandbox cannot run `true`: {result.stderr.strip()[:500]}"
            )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(limits={self.limits})"


def write_files(root: Path, files: Files) -> None:
    """Write ``files`` (relative POSIX paths) under ``root``; ``#!`` scripts get +x."""
    for name, content in files.items():
        rel = PurePosixPath(name)
        if rel.is_absolute() or not rel.parts or ".." in rel.parts:
            raise SandboxError(f"refusing to write {name!r}: sandbox files need a relative path")
        data = content.encode() if isinstance(content, str) else content
        path = root.joinpath(*rel.parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        path.chmod(0o755 if data.startswith(b"#!") else 0o644)


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

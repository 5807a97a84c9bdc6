"""Running one host process with a wall-clock deadline, bounded output and rlimits."""

from __future__ import annotations

import math
import os
import selectors
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import psutil

from stackeval.errors import SandboxError
from stackeval.sandbox.base import ExecResult, Limits

PATH = "/usr/bin:/bin"  # not /usr/local/bin: site-local wrappers are no part of a sandbox
_MiB = 1024 * 1024
_GRACE_S = 0.5  # how long to keep reading after the main process exited
_LIMIT_SIGNALS = {signal.SIGXCPU: "cpu_limit", signal.SIGXFSZ: "file_size_limit"}


class BoundedBuffer:
    """Keeps the first and last halves of a stream, counting what it drops."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def add(self, data: bytes) -> None:
        """Append a chunk, discarding the middle once the limit is reached."""
        self.total += len(data)
        room = self.limit // 2 - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if data:
            self.tail += data
            del self.tail[: -(self.limit - self.limit // 2) or None]

    @property
    def truncated(self) -> bool:
        """Whether bytes were dropped."""
        return self.total > len(self.head) + len(self.tail)

    def text(self) -> str:
        """The kept bytes as text, with a marker where the middle was dropped."""
        dropped = self.total - len(self.head) - len(self.tail)
        middle = f"\n[... {dropped} bytes dropped ...]\n".encode() if dropped else b""
        return bytes(self.head + middle + self.tail).decode("utf-8", errors="replace")


def prlimit_argv(limits: Limits, *, cpu_s: float, processes: int) -> list[str]:
    """A ``prlimit`` prefix setting the rlimits the sandboxed command inherits."""
    return [
        "prlimit",
        f"--as={limits.memory_mb * _MiB}",
        f"--nproc={processes}",
        f"--fsize={limits.file_size_mb * _MiB}",
        f"--cpu={math.ceil(cpu_s)}",
        f"--nofile={limits.open_files}",
        "--core=0",
        "--",
    ]


def run_process(
    cmd: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    stdin: bytes | None,
    timeout_s: float,
    limits: Limits,
) -> ExecResult:
    """Run ``cmd`` in its own process group; kill the whole group at the deadline or on exit."""
    start = time.perf_counter()
    try:
        proc = subprocess.Popen(
            list(cmd),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as exc:
        raise SandboxError(f"cannot start {cmd[0]!r}: {exc}") from exc
    assert proc.stdout is not None and proc.stderr is not None
    out, err = BoundedBuffer(limits.output_bytes), BoundedBuffer(limits.output_bytes)
    killed: str | None = None
    ended: float | None = None
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ, out)
        sel.register(proc.stderr, selectors.EVENT_READ, err)
        pending = memoryview(stdin or b"")
        if proc.stdin is not None:
            os.set_blocking(proc.stdin.fileno(), False)
            sel.register(proc.stdin, selectors.EVENT_WRITE)
        deadline = start + timeout_s
        while sel.get_map():
            now = time.perf_counter()
            if now >= deadline:
                killed = "timeout"
                break
            if proc.poll() is not None:
                ended = ended or now
                if now - ended > _GRACE_S:  # a background child still holds the pipes
                    break
            for key, _ in sel.select(timeout=min(0.1, deadline - now)):
                if key.fileobj is proc.stdin:
                    try:
                        pending = pending[os.write(proc.stdin.fileno(), pending[:65536]) :]
                    except BrokenPipeError:
                        pending = pending[:0]
                    if not pending:
                        sel.unregister(proc.stdin)
                        proc.stdin.close()
                    continue
                data = os.read(key.fd, 65536)
                if data:
                    key.data.add(data)
                else:
                    sel.unregister(key.fileobj)
            if out.total + err.total > limits.output_kill_bytes:
                killed = "output_limit"
                break
    _kill_group(proc.pid)
    returncode = proc.wait()
    duration = (ended or time.perf_counter()) - start
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream is not None and not stream.closed:
            stream.close()
    exit_code: int | None = returncode
    if killed:
        exit_code = None
    else:
        killed = _signal_reason(returncode)
    return ExecResult(
        exit_code=exit_code,
        stdout=out.text(),
        stderr=err.text(),
        timed_out=killed == "timeout",
        duration_s=duration,
        killed_reason=killed,
        truncated=out.truncated or err.truncated,
    )


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _signal_reason(returncode: int) -> str | None:
    """Why a process died of a signal: negative codes from Popen, 128+N from bwrap and shells."""
    signum = -returncode if returncode < 0 else returncode - 128 if 128 < returncode < 160 else 0
    if not signum:
        return None
    try:
        sig = signal.Signals(signum)
    except ValueError:
        return None
    return _LIMIT_SIGNALS.get(sig, f"signal:{sig.name}")


def tasks_of(uid: int) -> int:
    """Tasks (threads included) a real uid runs now: what RLIMIT_NPROC counts."""
    count = 0
    for proc in psutil.process_iter(["uids", "num_threads"]):
        uids = proc.info["uids"]
        if uids is not None and uids.real == uid:
            count += proc.info["num_threads"] or 1
    return count

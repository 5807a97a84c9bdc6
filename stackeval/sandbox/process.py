"""Running one sandbox command: wall-clock deadline, bounded output, rlimits, one memory limit."""

from __future__ import annotations

import logging
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
from stackeval.sandbox import cgroup
from stackeval.sandbox.base import ExecResult, Limits

log = logging.getLogger(__name__)

PATH = "/usr/bin:/bin"  # not /usr/local/bin: site-local wrappers are no part of a sandbox
_MiB = 1024 * 1024
GRACE_S = 0.5  # how long to keep reading after the main process exited
_SAMPLE_S = 0.1  # how often the no-cgroup fallback adds up the run's resident memory
_END_S = 5.0  # how long to keep killing a run's processes before giving up on them
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
    pass_fds: Sequence[int] = (),
    keep_stdout: bool = False,
    run_uid: int | None = None,
) -> ExecResult:
    """Run ``cmd`` with one memory limit for all its processes; end them all before returning.

    The command runs in its own session and, where the host allows it, its own cgroup (see
    ``stackeval.sandbox.cgroup``). ``run_uid`` is a uid only this run uses: any process left
    with it is part of the run too. Returns once no process of the run is left.
    """
    group = cgroup.create(limits.memory_mb * _MiB)
    start = time.perf_counter()
    try:
        proc = subprocess.Popen(
            [*(group.enter_argv() if group else []), *cmd],
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            pass_fds=tuple(pass_fds),
        )
    except OSError as exc:
        if group:
            group.remove()
        raise SandboxError(f"cannot start {cmd[0]!r}: {exc}") from exc
    try:
        out_limit = limits.output_kill_bytes if keep_stdout else limits.output_bytes
        out, err = BoundedBuffer(out_limit), BoundedBuffer(limits.output_bytes)
        killed, ended = _pump(proc, stdin, out, err, start + timeout_s, limits, group)
    finally:
        _end_run(proc, group, run_uid)
        returncode = proc.wait()
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None and not stream.closed:
                stream.close()
        oom = group.oom_kills() if group else 0
        if group:
            group.remove()
    duration = (ended or time.perf_counter()) - start
    exit_code: int | None = returncode
    if killed:
        exit_code = None
    elif oom:
        killed = "memory_limit"  # the kernel killed a process of the run for the group's limit
    else:
        killed = signal_reason(returncode)
    return ExecResult(
        exit_code=exit_code,
        stdout=out.text(),
        stderr=err.text(),
        timed_out=killed == "timeout",
        duration_s=duration,
        killed_reason=killed,
        truncated=out.truncated or err.truncated,
    )


def _pump(
    proc: subprocess.Popen,
    stdin: bytes | None,
    out: BoundedBuffer,
    err: BoundedBuffer,
    deadline: float,
    limits: Limits,
    group: cgroup.RunGroup | None,
) -> tuple[str | None, float | None]:
    """Feed stdin and read both streams until the end, the deadline or a limit."""
    assert proc.stdout is not None and proc.stderr is not None
    killed: str | None = None
    ended: float | None = None
    next_sample = 0.0
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ, out)
        sel.register(proc.stderr, selectors.EVENT_READ, err)
        pending = memoryview(stdin or b"")
        if proc.stdin is not None:
            os.set_blocking(proc.stdin.fileno(), False)
            sel.register(proc.stdin, selectors.EVENT_WRITE)
        while sel.get_map():
            now = time.perf_counter()
            if now >= deadline:
                killed = "timeout"
                break
            if proc.poll() is not None:
                ended = ended or now
                if now - ended > GRACE_S:  # a background child still holds the pipes
                    break
            if group is None and now >= next_sample:  # no cgroup: sample the run's memory
                next_sample = now + _SAMPLE_S
                if _resident(proc.pid) > limits.memory_mb * _MiB:
                    killed = "memory_limit"
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
    return killed, ended


def _resident(pid: int) -> int:
    """Resident memory of a process and all its descendants (the fallback's memory limit)."""
    total = 0
    try:
        root = psutil.Process(pid)
        for proc in [root, *root.children(recursive=True)]:
            try:
                total += proc.memory_info().rss
            except psutil.Error:
                continue
    except psutil.Error:
        pass
    return total


def _end_run(proc: subprocess.Popen, group: cgroup.RunGroup | None, run_uid: int | None) -> None:
    """SIGKILL every process of the run and wait until none is left."""
    try:
        tree = [proc.pid, *(p.pid for p in psutil.Process(proc.pid).children(recursive=True))]
    except psutil.Error:
        tree = [proc.pid]
    _kill_group(proc.pid)
    if group is not None:
        group.kill()
        return
    # no cgroup: the process tree (a pid namespace's processes stay under bwrap) and, as root,
    # everything that runs as the run's own uid
    deadline = time.monotonic() + _END_S
    while True:
        left = [pid for pid in tree if _alive(pid)]
        if run_uid is not None:
            left += [pid for pid in _pids_of(run_uid) if pid not in left]
        if not left or time.monotonic() > deadline:
            if left:
                log.warning("processes %s of a sandbox run outlived SIGKILL", left)
            return
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if proc.pid in left:
            proc.poll()  # reap our own child so it does not linger as a zombie
        time.sleep(0.005)


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _pids_of(uid: int) -> list[int]:
    found = []
    for proc in psutil.process_iter(["uids", "status"]):
        uids = proc.info["uids"]
        if uids is not None and uids.real == uid and proc.info["status"] != psutil.STATUS_ZOMBIE:
            found.append(proc.pid)
    return found


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def signal_reason(returncode: int) -> str | None:
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

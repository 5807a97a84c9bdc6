"""Child processes the embedded stack owns: started with a run-id label, stopped as a group.

Every child carries ``STACKEVAL_RUN_ID`` and ``STACKEVAL_OWNER_PID`` in its environment so a later
run can sweep the leftovers of a crashed one (an owner pid that no longer exists).
"""

from __future__ import annotations

import logging
import os
import shlex
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from stackeval.errors import StackError

log = logging.getLogger(__name__)

RUN_ID_ENV = "STACKEVAL_RUN_ID"
OWNER_ENV = "STACKEVAL_OWNER_PID"


@dataclass
class ManagedProcess:
    """A labelled child process writing to its own log file."""

    name: str
    argv: list[str]
    log_path: Path
    run_id: str
    env: dict[str, str] = field(default_factory=dict)
    popen: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    pid: int | None = None

    @property
    def command(self) -> str:
        """The command line, shell-quoted, for error messages."""
        return shlex.join(self.argv)

    def start(self) -> None:
        """Spawn the process in its own session so stop() can signal the whole group."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **self.env, RUN_ID_ENV: self.run_id, OWNER_ENV: str(os.getpid())}
        try:
            with open(self.log_path, "ab") as out:
                self.popen = subprocess.Popen(self.argv, stdout=out, stderr=subprocess.STDOUT,
                                              stdin=subprocess.DEVNULL, env=env,
                                              start_new_session=True)
        except OSError as exc:
            raise StackError(f"cannot start {self.name}: {exc}\nCommand: {self.command}") from exc
        self.pid = self.popen.pid
        log.info("started %s (pid %s): %s", self.name, self.pid, self.command)

    def alive(self) -> bool:
        """True while the process runs (works for attached, non-child processes too)."""
        if self.popen is not None:
            return self.popen.poll() is None
        return self.pid is not None and _pid_alive(self.pid)

    def stop(self, timeout_s: float = 10.0) -> None:
        """SIGTERM the process group, then SIGKILL what is left after the timeout."""
        if self.pid is None:
            return
        terminate_tree(self.pid, timeout_s)
        if self.popen is not None:
            try:
                self.popen.wait(timeout=1)
            except subprocess.TimeoutExpired:
                pass
        log.info("stopped %s (pid %s)", self.name, self.pid)


def _pid_alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def terminate_tree(pid: int, timeout_s: float = 10.0) -> None:
    """Stop a process and all its descendants: TERM, wait, KILL."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return
    for p in procs:
        try:
            p.send_signal(signal.SIGTERM)
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(procs, timeout=timeout_s)
    for p in alive:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(alive, timeout=2)


def sweep_orphans() -> list[int]:
    """Kill stackeval children whose owner process is gone (a crashed earlier run)."""
    killed = []
    for proc in psutil.process_iter(["pid"]):
        try:
            env = proc.environ()
        except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess, OSError):
            continue
        owner = env.get(OWNER_ENV)
        if owner is None or not owner.isdigit() or _pid_alive(int(owner)):
            continue
        log.warning("sweeping orphaned stackeval process %s (run %s)", proc.pid,
                    env.get(RUN_ID_ENV))
        terminate_tree(proc.pid, timeout_s=5)
        killed.append(proc.pid)
    return killed

"""Docker sandbox: one throwaway container per run, no network, read-only root, limits.

/work, /tmp and /dev/shm are size-limited tmpfs mounts; the container's memory limit covers all
its processes; the staged files are readable only by the container's user; harness files are
bound read-only at /harness. A run ends with the container's removal, which kills everything.
"""

from __future__ import annotations

import logging
import os
import socket
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import docker
import psutil
from docker.types import Ulimit
from docker.utils.socket import STDERR, frames_iter

from stackeval.errors import SandboxError
from stackeval.sandbox.base import (
    HARNESS_DIR,
    ExecResult,
    Files,
    Limits,
    Sandbox,
    remove_tree,
    write_files,
)
from stackeval.sandbox.process import GRACE_S, BoundedBuffer, signal_reason

log = logging.getLogger(__name__)

# A local image with python3, bash, coreutils, gawk/mawk and ImageMagick (the bash lab needs it).
DEFAULT_IMAGE = "stackeval-sandbox:latest"
LABEL = "stackeval.sandbox"
# copy in and run in one exec: after a separate `docker exec` the engine took 10 s to kill
_STAGE_AND_EXEC = 'cp -R /input/files/. /work/ && exec "$@" < /input/stdin'


class DockerSandbox(Sandbox):
    """Runs each command in a fresh container of ``image`` through the Docker engine API."""

    name = "docker"

    def __init__(
        self, limits: Limits | None = None, *, image: str = DEFAULT_IMAGE, client: Any = None
    ) -> None:
        super().__init__(limits)
        self.image = image
        self._client = client

    @property
    def client(self) -> Any:
        """The docker SDK client, created on first use."""
        if self._client is None:
            try:
                self._client = docker.from_env()
            except docker.errors.DockerException as exc:
                raise SandboxError(f"no Docker engine: {exc}") from exc
        return self._client

    def probe(self) -> None:
        """Raise ``SandboxError`` unless the engine answers and ``image`` exists locally."""
        try:
            self.client.ping()
            self.client.images.get(self.image)
        except docker.errors.ImageNotFound as exc:
            raise SandboxError(
                f"Docker sandbox image {self.image!r} is not present locally"
            ) from exc
        except docker.errors.DockerException as exc:
            raise SandboxError(f"Docker engine not usable: {exc}") from exc
        self.sweep()
        super().probe()

    def memory_scope(self) -> str:
        """The container's memory limit covers all of a run's processes."""
        return "container"

    def sweep(self) -> None:
        """Remove sandbox containers left behind by harness processes that are gone."""
        for container in self.client.containers.list(all=True, filters={"label": LABEL}):
            owner = container.labels.get(LABEL, "")
            if owner.isdigit() and not psutil.pid_exists(int(owner)):
                log.info("removing leftover sandbox container %s", container.short_id)
                container.remove(force=True)

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
        """Copy ``files`` into the container's tmpfs /work and run ``argv`` there as nobody."""
        staging = Path(tempfile.mkdtemp(prefix="stackeval-docker-"))
        container = None
        try:
            write_files(staging / "files", files)
            write_files(staging / "harness", harness or {})
            (staging / "stdin").write_bytes(stdin or b"")
            user = _restrict(staging)
            started = time.time()
            container = self._start(staging, timeout_s, user)
            return self._exec(container, argv, timeout_s, user, keep_stdout, started)
        except docker.errors.DockerException as exc:
            raise SandboxError(f"docker sandbox failed: {exc}") from exc
        finally:
            if container is not None:
                try:
                    container.remove(force=True)
                except docker.errors.DockerException as exc:
                    log.warning("could not remove sandbox container %s: %s", container.id, exc)
            remove_tree(staging)

    def _start(self, staging: Path, timeout_s: float, user: str) -> Any:
        lim = self.limits
        mib = 1024 * 1024
        return self.client.containers.run(
            self.image,
            # the container only idles; commands come in through exec so /work can be a tmpfs
            command=["sleep", str(int(timeout_s) + 60)],
            detach=True,
            network_mode="none",
            read_only=True,
            # exec on /work as under bwrap; no working_dir: docker would make /work root-only
            tmpfs={
                "/work": f"size={lim.tmpfs_mb}m,mode=1777,exec",
                "/tmp": f"size={lim.tmpfs_mb}m,mode=1777",
            },
            shm_size=f"{lim.tmpfs_mb}m",
            volumes={
                str(staging): {"bind": "/input", "mode": "ro"},
                str(staging / "harness"): {"bind": HARNESS_DIR, "mode": "ro"},
            },
            user=user,
            environment={},
            mem_limit=f"{lim.memory_mb}m",
            memswap_limit=f"{lim.memory_mb}m",
            nano_cpus=int(lim.cpus * 1e9),
            pids_limit=lim.processes,
            ulimits=[
                Ulimit(name="fsize", soft=lim.file_size_mb * mib, hard=lim.file_size_mb * mib),
                Ulimit(name="nofile", soft=lim.open_files, hard=lim.open_files),
            ],
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            labels={LABEL: str(os.getpid())},
            stop_signal="SIGKILL",
        )

    def _exec(
        self,
        container: Any,
        argv: Sequence[str],
        timeout_s: float,
        user: str,
        keep_stdout: bool,
        started: float,
    ) -> ExecResult:
        api = self.client.api
        exec_id = api.exec_create(
            container.id,
            ["sh", "-c", _STAGE_AND_EXEC, "sh", *argv],
            user=user,
            workdir="/work",
            environment={},
        )["Id"]
        lim = self.limits
        out = BoundedBuffer(lim.output_kill_bytes if keep_stdout else lim.output_bytes)
        err = BoundedBuffer(lim.output_bytes)
        killed: list[str] = []
        start = time.perf_counter()
        sock = api.exec_start(exec_id, socket=True)

        def pump() -> None:
            try:
                for stream, data in frames_iter(sock, tty=False):
                    (err if stream == STDERR else out).add(data)
                    if out.total + err.total > self.limits.output_kill_bytes:
                        killed.append("output_limit")
                        return
            except (OSError, ValueError):  # the socket was closed under us: timeout
                return

        reader = threading.Thread(target=pump, daemon=True)
        reader.start()
        ended = self._wait(reader, exec_id, start + timeout_s)
        if reader.is_alive() and ended is None:
            killed.append("timeout")
        if killed or reader.is_alive():
            # close the stream first: with an unread attach stream the engine takes 10 s to kill;
            # a background process that still holds the stream dies with the container
            _close(sock)
            container.kill()
            reader.join(5)
        _close(sock)
        duration = (ended or time.perf_counter()) - start
        try:
            exit_code = api.exec_inspect(exec_id).get("ExitCode")
        except docker.errors.DockerException:  # the container may be gone after a kill
            exit_code = None
        reason = killed[0] if killed else None
        if reason is None and self._oom_killed(container, started, exit_code):
            reason = "memory_limit"  # the engine says the kernel killed for the memory limit
        elif reason is None and exit_code is not None and 128 < exit_code < 160:
            reason = signal_reason(exit_code)  # e.g. 137: killed, but the engine saw no OOM
        return ExecResult(
            exit_code=None if killed else exit_code,
            stdout=out.text(),
            stderr=err.text(),
            timed_out=reason == "timeout",
            duration_s=duration,
            killed_reason=reason,
            truncated=out.truncated or err.truncated,
        )

    def _wait(self, reader: threading.Thread, exec_id: str, deadline: float) -> float | None:
        """Wait for the output to end, the deadline, or the command's exit plus a grace period
        (a background process may hold the stream open); when the command exited, if it did."""
        ended: float | None = None
        while reader.is_alive():
            now = time.perf_counter()
            if now >= deadline or (ended is not None and now - ended > GRACE_S):
                break
            reader.join(min(0.1, deadline - now))
            if ended is None and reader.is_alive():
                try:
                    running = self.client.api.exec_inspect(exec_id).get("Running", True)
                except docker.errors.DockerException:
                    running = True
                if not running:
                    ended = time.perf_counter()
        return ended

    def _oom_killed(self, container: Any, since: float, exit_code: int | None) -> bool:
        """Whether the engine reports an OOM kill in this container since ``since``."""
        deadline = time.time() + (1.0 if exit_code == 137 else 0.0)  # the event may lag the exit
        while True:
            try:
                container.reload()
                if container.attrs.get("State", {}).get("OOMKilled"):
                    return True
                events = self.client.api.events(
                    since=f"{since - 1:.3f}",
                    until=f"{time.time():.3f}",
                    filters={"container": container.id, "event": "oom"},
                    decode=True,
                )
                if any(True for _ in events):
                    return True
            except docker.errors.DockerException as exc:
                log.debug("cannot ask the engine about OOM kills: %s", exc)
                return False
            if time.time() >= deadline:
                return False
            time.sleep(0.1)


def _restrict(staging: Path) -> str:
    """Make the staged files readable only by the container's user; return that user.

    As root the files go to nobody (65534) with owner-only modes. Otherwise they stay the
    harness user's, readable by its group, and the container runs as nobody in that group.
    """
    if os.geteuid() == 0:
        uid = gid = 65534
        dir_mode, file_mode, exec_mode = 0o700, 0o600, 0o700
    else:
        uid, gid = -1, os.getegid()
        dir_mode, file_mode, exec_mode = 0o750, 0o640, 0o750
    for path in [staging, *staging.rglob("*")]:
        os.chown(path, uid, gid, follow_symlinks=False)
        if path.is_dir():
            path.chmod(dir_mode)
        else:
            path.chmod(exec_mode if path.stat().st_mode & 0o100 else file_mode)
    return f"65534:{gid}"


def _close(sock: Any) -> None:
    """Shut the attach socket down so a blocked reader returns at once."""
    raw = getattr(sock, "_sock", sock)  # SocketIO wraps the socket; None once closed
    if raw is None:
        return
    try:
        raw.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()

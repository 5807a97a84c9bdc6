"""Docker sandbox: one throwaway container per run, no network, read-only root, limits."""

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
from stackeval.sandbox.base import ExecResult, Files, Limits, Sandbox, remove_tree, write_files
from stackeval.sandbox.process import BoundedBuffer

log = logging.getLogger(__name__)

# A local image with python3, bash, coreutils, gawk/mawk and ImageMagick (the bash lab needs it).
DEFAULT_IMAGE = "stackeval-sandbox:latest"
LABEL = "stackeval.sandbox"
_NOBODY = "65534:65534"
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
    ) -> ExecResult:
        """Copy ``files`` into the container's tmpfs /work and run ``argv`` there as nobody."""
        staging = Path(tempfile.mkdtemp(prefix="stackeval-docker-"))
        container = None
        try:
            (staging / "files").mkdir()
            write_files(staging / "files", files)
            (staging / "stdin").write_bytes(stdin or b"")
            for path in [staging, *staging.rglob("*")]:
                path.chmod(
                    path.stat().st_mode | 0o755 if path.is_dir() else path.stat().st_mode | 0o444
                )
            container = self._start(staging, timeout_s)
            return self._exec(container, argv, timeout_s)
        except docker.errors.DockerException as exc:
            raise SandboxError(f"docker sandbox failed: {exc}") from exc
        finally:
            if container is not None:
                try:
                    container.remove(force=True)
                except docker.errors.DockerException as exc:
                    log.warning("could not remove sandbox container %s: %s", container.id, exc)
            remove_tree(staging)

    def _start(self, staging: Path, timeout_s: float) -> Any:
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
            volumes={str(staging): {"bind": "/input", "mode": "ro"}},
            user=_NOBODY,
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

    def _exec(self, container: Any, argv: Sequence[str], timeout_s: float) -> ExecResult:
        api = self.client.api
        exec_id = api.exec_create(
            container.id,
            ["sh", "-c", _STAGE_AND_EXEC, "sh", *argv],
            user=_NOBODY,
            workdir="/work",
            environment={},
        )["Id"]
        out, err = BoundedBuffer(self.limits.output_bytes), BoundedBuffer(self.limits.output_bytes)
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
        reader.join(timeout_s)
        if reader.is_alive():
            killed.append("timeout")
        if killed:
            # close the stream first: with an unread attach stream the engine takes 10 s to kill
            _close(sock)
            container.kill()
            reader.join(5)
        _close(sock)
        duration = time.perf_counter() - start
        try:
            exit_code = api.exec_inspect(exec_id).get("ExitCode")
        except docker.errors.DockerException:  # the container may be gone after a kill
            exit_code = None
        reason = killed[0] if killed else None
        if reason is None and exit_code == 137:
            reason = "memory_limit"  # nothing else in the container sends SIGKILL: the OOM killer
        return ExecResult(
            exit_code=None if killed else exit_code,
            stdout=out.text(),
            stderr=err.text(),
            timed_out=reason == "timeout",
            duration_s=duration,
            killed_reason=reason,
            truncated=out.truncated or err.truncated,
        )


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

"""A telemetry source that follows the stack while it changes: servers come and go per model.

The sampler's own ProcessSource watches a fixed pid set chosen at start; a session-long sampler
needs the set re-read on every tick (model servers load lazily, one at a time), containers
picked up once the compose profile has started them, and this harness process on its own
(without its children, which are the servers).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence

import psutil

from stackeval.stack.base import Stack
from stackeval.telemetry import DockerSource, ProcessSource, SourceUnavailable

log = logging.getLogger(__name__)

_MIB = 1024 * 1024


def stack_pids(stack: Stack | None) -> dict[str, int]:
    """``{label: pid}`` of a stack's running services: ``server-<model>``, ``gateway``."""
    return {} if stack is None else dict(stack.pids())


def stack_containers(stack: Stack | None) -> list[str]:
    """Container names of a compose stack (empty for other profiles)."""
    return [] if stack is None else list(stack.containers())


class StackSource:
    """``proc.<label>.*`` for each stack service (tree-summed), ``proc.harness.*`` for this
    process alone, and ``docker.<name>.*`` for the stack's containers."""

    name = "stack"

    def __init__(self, pids: Callable[[], Mapping[str, int]],
                 containers: Callable[[], Sequence[str]] = lambda: (),
                 harness: bool = True) -> None:
        self._get_pids = pids
        self._get_containers = containers
        self.harness = harness
        self._pids: dict[str, int] = {}
        self._procs: ProcessSource | None = None
        self._docker: DockerSource | None = None
        self._docker_tried: tuple[str, ...] = ()
        self._self = psutil.Process()

    def open(self) -> None:
        """Prime this process's CPU counter; services are found on each read."""
        self._self.cpu_percent(interval=None)

    def read(self) -> dict[str, float]:
        """Take one reading, re-resolving the service set first."""
        self._follow()
        out: dict[str, float] = {}
        if self._procs is not None:
            out.update(self._procs.read())
        if self._docker is not None:
            out.update(self._docker.read())
        if self.harness:
            with self._self.oneshot():
                out["proc.harness.cpu_percent"] = self._self.cpu_percent(interval=None)
                out["proc.harness.rss_mib"] = self._self.memory_info().rss / _MIB
        return out

    def close(self) -> None:
        """Stop the docker pollers and forget the handles."""
        if self._docker is not None:
            self._docker.close()
            self._docker = None
        self._procs = None

    def _follow(self) -> None:
        try:
            pids = dict(self._get_pids())
        except Exception:  # noqa: BLE001 -- the stack changed mid-read; keep the last set
            log.debug("reading stack pids failed", exc_info=True)
            pids = self._pids
        if pids != self._pids:
            self._pids = pids
            self._procs = None
            if pids:
                procs = ProcessSource(pids)
                try:
                    procs.open()
                    self._procs = procs
                except SourceUnavailable as exc:
                    log.debug("stack processes not running yet: %s", exc)
        if self._docker is None:
            try:
                names = tuple(self._get_containers())
            except Exception:  # noqa: BLE001 -- the stack is starting or gone
                names = ()
            if names and names != self._docker_tried:
                self._docker_tried = names
                docker = DockerSource(names)
                try:
                    docker.open()
                    self._docker = docker
                except SourceUnavailable as exc:
                    log.info("container telemetry unavailable: %s", exc)

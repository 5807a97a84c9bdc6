"""A telemetry source that follows the stack while it changes: servers come and go per model.

The sampler's own ProcessSource watches a fixed pid set chosen at start; a session-long sampler
needs the set re-read on every tick (model servers load lazily, one at a time), containers
picked up once the compose profile has started them, and this harness process on its own
(without its children, which are the servers). One ProcessSource follows the changing set, so
a service that was already watched keeps its counters, and a new one has no CPU % on its first
tick (there is no interval to divide by yet).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence

from stackeval.stack.base import Stack
from stackeval.telemetry import DockerSource, ProcessSource, SourceUnavailable

log = logging.getLogger(__name__)


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
        self._procs = ProcessSource({})
        self._docker: DockerSource | None = None
        self._docker_tried: tuple[str, ...] = ()
        self._self = ProcessSource({"harness": os.getpid()}, with_children=False)

    def open(self) -> None:
        """Take this process's first reading; services are found on each read."""
        if self.harness:
            self._self.open()

    def read(self) -> dict[str, float]:
        """Take one reading, re-resolving the service set first."""
        self._follow()
        out: dict[str, float] = self._procs.read()
        if self._docker is not None:
            out.update(self._docker.read())
        if self.harness:
            out.update(self._self.read())
        return out

    def close(self) -> None:
        """Stop the docker pollers and forget the handles."""
        if self._docker is not None:
            self._docker.close()
            self._docker = None
        self._procs.close()
        self._self.close()

    def _follow(self) -> None:
        try:
            pids = dict(self._get_pids())
        except Exception:  # noqa: BLE001 -- the stack changed mid-read; keep the last set
            log.debug("reading stack pids failed", exc_info=True)
            pids = self._pids
        if pids != self._pids or pids != self._procs.watching:
            # Kept where unchanged; one not running yet is tried again on the next tick.
            self._pids = pids
            self._procs.update(pids)
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

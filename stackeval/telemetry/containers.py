"""Container CPU and memory from the Docker daemon, the way ``docker stats`` computes them."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

from stackeval.telemetry.source import SourceUnavailable

log = logging.getLogger(__name__)

_MIB = 1024 * 1024


def docker_cpu_percent(stats: dict[str, Any]) -> float | None:
    """CPU % (100 = one core) from one ``stats(stream=False)`` payload, as ``docker stats`` does."""
    cpu, pre = stats.get("cpu_stats") or {}, stats.get("precpu_stats") or {}
    try:
        cpu_delta = cpu["cpu_usage"]["total_usage"] - pre["cpu_usage"]["total_usage"]
        system_delta = cpu["system_cpu_usage"] - pre["system_cpu_usage"]
    except KeyError:
        return None  # the first payload of a fresh container has no precpu_stats
    cpus = cpu.get("online_cpus") or len(cpu["cpu_usage"].get("percpu_usage") or ()) or 1
    if system_delta <= 0 or cpu_delta < 0:
        return None
    return cpu_delta / system_delta * cpus * 100.0


def docker_memory(stats: dict[str, Any]) -> dict[str, float]:
    """Memory used (minus page cache, as ``docker stats`` shows it), limit and percent."""
    mem = stats.get("memory_stats") or {}
    if "usage" not in mem:
        return {}
    detail = mem.get("stats") or {}
    # cgroup v1 reports total_inactive_file, cgroup v2 inactive_file.
    cache = detail.get("total_inactive_file", detail.get("inactive_file", 0))
    used = max(mem["usage"] - cache, 0)
    out = {"mem_used_mib": used / _MIB}
    if mem.get("limit"):
        out["mem_limit_mib"] = mem["limit"] / _MIB
        out["mem_percent"] = used / mem["limit"] * 100.0
    return out


class DockerSource:
    """Per container ``docker.<name>.*``: CPU % and memory.

    ``stats(stream=False)`` blocks about a second per call, so each container is polled in its
    own thread every ``interval_s`` and ``read()`` returns the latest values without waiting.
    """

    name = "docker"

    def __init__(
        self, containers: Sequence[str], interval_s: float = 1.0, client: Any = None
    ) -> None:
        self.containers = tuple(containers)
        self.interval_s = interval_s
        self._client = client  # a docker.DockerClient; tests pass a fake
        self._latest: dict[str, float] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def open(self) -> None:
        """Connect to the daemon, find the containers and start one poller each."""
        client = self._client or _connect()
        found = {}
        for name in self.containers:
            try:
                found[name] = client.containers.get(name)
            except Exception as exc:  # noqa: BLE001 -- NotFound, APIError, or a connection error
                log.info("docker telemetry skips container %s: %s", name, exc)
        if not found:
            raise SourceUnavailable(f"none of the containers found: {', '.join(self.containers)}")
        self._stop.clear()
        for name, container in found.items():
            t = threading.Thread(
                target=self._poll,
                args=(name, container),
                name=f"stackeval-docker-{name}",
                daemon=True,
            )
            t.start()
            self._threads.append(t)

    def read(self) -> dict[str, float]:
        """The latest values from the pollers (possibly a second old)."""
        with self._lock:
            return dict(self._latest)

    def close(self) -> None:
        """Stop the pollers; a poller stuck in a daemon call is left to die with the process."""
        self._stop.set()
        for t in self._threads:
            t.join(timeout=0.1)
        self._threads.clear()

    def _poll(self, name: str, container: Any) -> None:
        prefix = f"docker.{name}."
        while not self._stop.is_set():
            began = time.perf_counter()
            try:
                stats = container.stats(stream=False)
            except Exception as exc:  # noqa: BLE001 -- container removed or daemon gone
                log.info("docker telemetry stops polling %s: %s", name, exc)
                with self._lock:
                    for key in [k for k in self._latest if k.startswith(prefix)]:
                        del self._latest[key]
                return
            values = docker_memory(stats)
            cpu = docker_cpu_percent(stats)
            if cpu is not None:
                values["cpu_percent"] = cpu
            with self._lock:
                self._latest.update({prefix + k: v for k, v in values.items()})
            self._stop.wait(max(0.0, self.interval_s - (time.perf_counter() - began)))


def _connect() -> Any:
    try:
        import docker
        import requests  # a dependency of the docker SDK
    except ImportError as exc:
        raise SourceUnavailable("the docker SDK is not installed") from exc
    try:
        client = docker.from_env(timeout=5)
        client.ping()
    except (docker.errors.DockerException, requests.RequestException) as exc:
        raise SourceUnavailable(f"Docker daemon not reachable: {exc}") from exc
    return client

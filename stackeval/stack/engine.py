"""The Docker engine boundary (Docker SDK): what Compose does not give.

Labels and the orphan sweep (every container, network and volume of a run carries
``stackeval.run=<run_id>``), container state and log tails, image presence, and the kept volumes
created before ``up``. Docker's errors become ``StackError`` with what to do.
"""

from __future__ import annotations

import logging
import os
import socket
from typing import Any

import psutil

from stackeval.errors import StackError

log = logging.getLogger(__name__)

RUN_LABEL = "stackeval.run"
OWNER_LABEL = "stackeval.owner"  # host:pid of the pytest process that created it
KEEP_LABEL = "stackeval.keep"  # --keep-stack: never swept
SERVICE_LABEL = "stackeval.service"


def connect(timeout_s: int = 120) -> Any:
    """A Docker SDK client that has answered a ping, or a StackError saying how to get one."""
    try:
        import docker
    except ImportError as exc:
        raise StackError("the docker Python package is missing — pip install docker") from exc
    where = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    try:
        client = docker.from_env(timeout=timeout_s)
        client.ping()
    except docker.errors.DockerException as exc:
        raise StackError(f"no Docker engine answers at {where} ({short(exc)}) — start it "
                         "(sudo systemctl start docker, or dockerd & as root) or point DOCKER_HOST "
                         "at a running engine") from exc
    return client


def short(exc: BaseException) -> str:
    """The first line of a Docker error, for one-line messages."""
    text = getattr(exc, "explanation", None) or str(exc) or type(exc).__name__
    return text.strip().splitlines()[0][:200]


def owner() -> str:
    """This process as the owner label records it (``host:pid``)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def run_labels(run_id: str, *, keep: bool = False) -> dict[str, str]:
    """The labels every resource of a run carries."""
    labels = {RUN_LABEL: run_id, OWNER_LABEL: owner()}
    if keep:
        labels[KEEP_LABEL] = "true"
    return labels


def _orphaned(labels: dict[str, str]) -> bool:
    """Made by a run whose pytest process on this host is gone (and not kept on purpose)."""
    if labels.get(KEEP_LABEL) == "true":
        return False
    host, _, pid = labels.get(OWNER_LABEL, "").partition(":")
    return host == socket.gethostname() and pid.isdigit() and not psutil.pid_exists(int(pid))


def remove_run(client: Any, run_id: str) -> list[str]:
    """Remove every container, network and volume labelled with ``run_id``; return their names."""
    import docker

    removed, selector = [], {"label": f"{RUN_LABEL}={run_id}"}
    for container in client.containers.list(all=True, filters=selector):
        try:
            container.remove(force=True, v=True)  # v: its anonymous volumes too
            removed.append(container.name)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as exc:
            log.warning("could not remove container %s: %s", container.name, short(exc))
    for kind in (client.networks, client.volumes):
        for obj in kind.list(filters=selector):
            try:
                obj.remove()
                removed.append(obj.name)
            except docker.errors.NotFound:
                pass
            except docker.errors.APIError as exc:
                log.warning("could not remove %s: %s", obj.name, short(exc))
    return removed


def sweep_orphans(client: Any) -> list[str]:
    """Remove what crashed runs on this host left behind (never a --keep-stack run's)."""
    selector = {"label": RUN_LABEL}
    objs = [*client.containers.list(all=True, filters=selector),
            *client.networks.list(filters=selector), *client.volumes.list(filters=selector)]
    runs = {labels[RUN_LABEL] for labels in map(_labels_of, objs) if _orphaned(labels)}
    removed = []
    for run in sorted(runs):
        removed += remove_run(client, run)
    return removed


def _labels_of(obj: Any) -> dict[str, str]:
    # Containers expose .labels; networks and volumes keep them in attrs.
    return getattr(obj, "labels", None) or obj.attrs.get("Labels") or {}


def has_image(client: Any, image: str) -> bool:
    """True when the engine has the image locally."""
    import docker

    try:
        client.images.get(image)
        return True
    except docker.errors.ImageNotFound:
        return False


def ensure_kept_volume(client: Any, name: str) -> None:
    """Create a volume that outlives runs (labelled kept, never swept) unless it exists."""
    import docker

    try:
        client.volumes.get(name)
    except docker.errors.NotFound:
        client.volumes.create(name, labels={KEEP_LABEL: "true"})
        log.info("created kept volume %s", name)


def container_state(client: Any, name: str, tail: int = 30) -> tuple[str, str]:
    """A container's status and, when it is not running, its log tail ("gone" if missing)."""
    import docker

    try:
        container = client.containers.get(name)
    except docker.errors.NotFound:
        return "gone", ""
    if container.status == "running":
        return "running", ""
    return container.status, container.logs(tail=tail).decode(errors="replace")


def run_logs(client: Any, run_id: str, lines: int) -> dict[str, str]:
    """Log tails of a run's containers by service name."""
    containers = client.containers.list(all=True, filters={"label": f"{RUN_LABEL}={run_id}"})
    return {c.labels.get(SERVICE_LABEL, c.name): c.logs(tail=lines).decode(errors="replace")
            for c in containers}

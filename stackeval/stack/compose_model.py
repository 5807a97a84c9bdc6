"""What stackeval reads from Compose's merged model, and the one override file it adds.

Compose merges and interpolates the user's files; from its ``config --format json`` model this
module reads the ``x-stackeval`` block (which service is the inference server, the gateway and
the web UI), checks that their ports are published on 127.0.0.1, and writes the override that
puts the run's labels on every service, network and volume. Nothing here runs Docker.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from stackeval.errors import ConfigError, StackError
from stackeval.stack.compose_cli import published_ports
from stackeval.stack.engine import SERVICE_LABEL

ROLE_APIS = {"inference": ("ollama", "openai"), "gateway": ("one-api", "litellm"),
             "webui": ("open-webui",)}


@dataclass(frozen=True)
class Role:
    """The part a service plays (inference, gateway, webui), the API it speaks and its port."""

    service: str
    api: str
    port: int
    key: str | None = None  # litellm: the master key
    admin_password: str | None = None  # one-api: root's current password


def read_roles(model: Mapping[str, Any], where: str) -> dict[str, Role]:
    """The ``x-stackeval`` roles, checked against the services and ports Compose resolved."""
    spec = model.get("x-stackeval") or {}
    services = model.get("services") or {}
    if not services:
        raise ConfigError(f"{where}: no services to start")
    ports = {(svc, target) for svc, _, target, _ in published_ports(model)}
    roles = {}
    for role, apis in ROLE_APIS.items():
        entry = spec.get(role)
        if not entry:
            if role != "webui":
                raise ConfigError(f"{where}: x-stackeval.{role} is missing (service, api, port)")
            continue
        try:
            r = Role(str(entry["service"]), str(entry["api"]), int(entry["port"]),
                     entry.get("key"), entry.get("admin_password"))
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"{where}: x-stackeval.{role} needs service, api and port") from exc
        if r.api not in apis:
            raise ConfigError(f"{where}: x-stackeval.{role}.api={r.api!r}: choose "
                              f"{' or '.join(apis)}")
        if r.service not in services:
            raise ConfigError(f"{where}: x-stackeval.{role} names service {r.service!r}, which "
                              "is not defined (or not in an enabled profile)")
        if (r.service, r.port) not in ports:
            raise ConfigError(f"{where}: service {r.service} must publish port {r.port} on "
                              "127.0.0.1 for stackeval to reach it")
        roles[role] = r
    return roles


def check_loopback(model: Mapping[str, Any], where: str) -> None:
    """Ports are published on 127.0.0.1 only (one without an address is moved there)."""
    for service, ip, target, host in published_ports(model):
        if ip and not ip.startswith("127.") and ip != "::1":
            spec = f"{ip}:{host or ''}:{target}"
            raise ConfigError(f"{where}: service {service} publishes {spec!r} on {ip}; "
                              "stackeval publishes on 127.0.0.1 only — write 127.0.0.1:PORT:PORT")


def check_ports_free(model: Mapping[str, Any], where: str) -> None:
    """Fail before creating anything when a fixed host port is already taken."""
    for service, ip, _, host in published_ports(model):
        if host is None:
            continue
        ip = ip or "127.0.0.1"
        with socket.socket(socket.AF_INET6 if ":" in ip else socket.AF_INET) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is fine
            try:
                s.bind((ip, host))
            except OSError as exc:
                raise StackError(
                    f"port {ip}:{host} for service {service} is already in use "
                    f"({exc.strerror}) — stop what holds it (ss -ltnp 'sport = :{host}') or "
                    f"publish another port in {where}") from exc


def kept_volumes(model: Mapping[str, Any]) -> dict[str, str]:
    """``x-stackeval.keep_volumes``: declared name -> the engine's name as the files name it."""
    keep = (model.get("x-stackeval") or {}).get("keep_volumes") or ()
    volumes = model.get("volumes") or {}
    prefix = model.get("name") or "default"
    return {name: str((volumes.get(name) or {}).get("name") or f"{prefix}_{name}")
            for name in keep if name in volumes}


class _Override(list):  # type: ignore[type-arg]
    """A list that Compose must take as is (``!override``), not merge with the user's."""


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(_Override, lambda d, v: d.represent_sequence("!override", list(v)))


def run_override(model: Mapping[str, Any], labels: Mapping[str, str],
                 kept: Mapping[str, str]) -> dict[str, Any]:
    """The run's own override: labels everywhere, kept volumes external, ports on 127.0.0.1.

    Kept volumes keep the name the user's files give them (``stackeval_ollama``), so pulled
    models are shared with a stack started by hand; ``down -v`` leaves external volumes alone.
    """
    services: dict[str, Any] = {}
    for name, svc in (model.get("services") or {}).items():
        entry: dict[str, Any] = {"labels": {**labels, SERVICE_LABEL: name}}
        ports = svc.get("ports") or []
        if any(not p.get("host_ip") for p in ports):
            # Compose would bind 0.0.0.0; stackeval's rule is loopback only.
            entry["ports"] = _Override({**p, "host_ip": p.get("host_ip") or "127.0.0.1"}
                                       for p in ports)
        services[name] = entry
    networks = {name: {"labels": dict(labels)}
                for name, net in (model.get("networks") or {}).items()
                if not (net or {}).get("external")}
    volumes: dict[str, Any] = {}
    for name, vol in (model.get("volumes") or {}).items():
        if name in kept:
            volumes[name] = {"name": kept[name], "external": True}
        elif not (vol or {}).get("external"):
            volumes[name] = {"labels": dict(labels)}
    doc: dict[str, Any] = {"services": services}
    if networks:
        doc["networks"] = networks
    if volumes:
        doc["volumes"] = volumes
    return doc


def write_override(path: Path, doc: Mapping[str, Any]) -> Path:
    """Write the override as YAML (``!override`` tags need YAML, not JSON)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("# Written by stackeval for one run; Compose merges it after your files.\n"
                    + yaml.dump(dict(doc), Dumper=_Dumper, sort_keys=False))
    return path

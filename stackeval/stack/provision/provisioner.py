"""Provisioning a started compose stack: models into the inference server, the gateway keyed,
Open WebUI's admin made — over the services' HTTP APIs, with no Docker calls.

The stack hands in the host URLs of each role and the resolved model specs; what provisioning
leaves behind (the gateway key, versions, admin passwords, Ollama's model list) comes back as a
``Provisioned`` for the stack to keep and write to its state file.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from stackeval.errors import ConfigError, StackError, UnknownModel
from stackeval.models.cache import default_cache_dir
from stackeval.models.catalog import ModelSpec
from stackeval.models.pull import pull
from stackeval.stack.compose_model import Role
from stackeval.stack.provision.ollama import OllamaClient
from stackeval.stack.provision.one_api import OneApiClient, provision_one_api
from stackeval.stack.provision.open_webui import OpenWebUIClient

log = logging.getLogger(__name__)


@dataclass
class Provisioned:
    """What provisioning left behind; secrets go to the state file only."""

    gateway_key: str | None = field(default=None, repr=False)
    webui_token: str | None = field(default=None, repr=False)
    versions: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict, repr=False)
    ollama_models: dict[str, dict[str, Any]] = field(default_factory=dict)  # /api/tags entries


@dataclass(frozen=True)
class Provisioner:
    """Provisions one stack's roles for ``specs``; ``urls`` maps each role to its host URL."""

    roles: Mapping[str, Role]
    urls: Mapping[str, str]
    specs: Sequence[ModelSpec]
    model_source: str = "pull"  # pull: Ollama's registry | import: the catalog's GGUF files
    ctx_size: int | None = None
    cache_dir: Path | None = None
    progress: bool = True
    transport: httpx.BaseTransport | None = None  # tests replay the services through it

    @property
    def names(self) -> list[str]:
        """Model names in the order given."""
        return [spec.name for spec in self.specs]

    def imports(self, spec: ModelSpec) -> bool:
        """A local ``.gguf`` is always imported; catalog models when --model-source import."""
        return spec.is_local or self.model_source == "import"

    def run(self, gateway_image: str) -> Provisioned:
        """Inference, then the gateway, then the web UI (each needs the one before)."""
        out = Provisioned()
        self.inference(out)
        self.gateway(out, gateway_image)
        self.webui(out)
        return out

    def inference(self, out: Provisioned) -> None:
        """Ollama: pull or import every model; an OpenAI-compatible server: check it serves them."""
        inf = self.roles["inference"]
        if inf.api == "openai":
            served = list_models(self.urls["inference"] + "/v1/models", None, self.transport)
            self.check_served(served, f"service {inf.service}")
            return
        with OllamaClient(self.urls["inference"], transport=self.transport) as ollama:
            out.versions["inference"] = f"Ollama {ollama.version()}"
            present = ollama.models()
            for spec in self.specs:
                if self.imports(spec):
                    pulled = pull(spec, self.cache_dir or default_cache_dir(),
                                  progress=self.progress)
                    ollama.import_gguf(spec.name, pulled.path, sha256=pulled.sha256,
                                       parameters={"num_ctx": self.ctx_size or spec.n_ctx},
                                       progress=self.progress)
                elif spec.name not in present and f"{spec.name}:latest" not in present:
                    ollama.pull(spec.name, progress=self.progress)
            out.ollama_models = ollama.models()

    def gateway(self, out: Provisioned, image: str) -> None:
        """LiteLLM keeps the key it was started with; One-API gets a channel and a minted token."""
        gw, inf = self.roles["gateway"], self.roles["inference"]
        if gw.api == "litellm":
            if not gw.key:
                raise ConfigError("x-stackeval.gateway.key is required for a litellm gateway "
                                  "(e.g. \"${STACKEVAL_GATEWAY_KEY}\")")
            out.gateway_key = gw.key
            out.versions["gateway"] = f"LiteLLM proxy ({image})"
        else:
            # Type 30 speaks Ollama's native API; an OpenAI-compatible server gets type 50.
            upstream = f"http://{inf.service}:{inf.port}"
            with OneApiClient(self.urls["gateway"], transport=self.transport) as one_api:
                access = provision_one_api(
                    one_api, models=self.names, ollama=inf.api == "ollama",
                    upstream=upstream if inf.api == "ollama" else upstream + "/v1",
                    password=gw.admin_password or "123456")
            out.gateway_key = access.token
            out.versions["gateway"] = f"One-API {access.version}"
            out.secrets["one_api_root_password"] = access.root_password
        routed = list_models(self.urls["gateway"] + "/v1/models", out.gateway_key, self.transport)
        self.check_served(routed, f"the gateway ({gw.service})")

    def webui(self, out: Provisioned) -> None:
        """Open WebUI's first admin, connected to the gateway (when the stack has a web UI)."""
        if "webui" not in self.roles:
            return
        gw = self.roles["gateway"]
        password = secrets.token_urlsafe(12)
        with OpenWebUIClient(self.urls["webui"], transport=self.transport) as webui:
            out.webui_token = webui.create_admin("stackeval", "admin@stackeval.local", password)
            webui.connect_openai(f"http://{gw.service}:{gw.port}/v1", out.gateway_key or "")
            out.versions["webui"] = f"Open WebUI {webui.version()}"
        out.secrets.update(open_webui_admin="admin@stackeval.local",
                           open_webui_password=password)

    def check_served(self, served: list[str], where: str) -> None:
        """UnknownModel naming what is missing and what is served."""
        missing = [m for m in self.names if m not in served]
        if missing:
            raise UnknownModel(f"{where} does not serve {', '.join(map(repr, missing))} (it "
                               f"serves: {', '.join(served) or 'nothing'}) — pick those with "
                               "--models, or use a compose file whose inference service has it")


def list_models(url: str, key: str | None,
                transport: httpx.BaseTransport | None = None) -> list[str]:
    """The ids an OpenAI-compatible ``/v1/models`` lists."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        with httpx.Client(transport=transport, timeout=30, trust_env=False) as http:
            resp = http.get(url, headers=headers)
        resp.raise_for_status()
        return [m["id"] for m in resp.json().get("data", [])]
    except (httpx.HTTPError, ValueError, KeyError) as exc:
        text = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise StackError(f"{url} did not list its models: {text}") from exc

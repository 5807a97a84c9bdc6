"""Provisioning a compose stack's roles (no Docker): the order, the bodies, the checks.

The services are answered by an ``httpx.MockTransport`` that speaks the documented shapes of
Ollama, One-API and Open WebUI (as tests/test_provision_clients.py's transcripts do); the stack's
``served()`` reads the specs it was given, never the catalog.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from stackeval.config import Settings
from stackeval.errors import ConfigError, UnknownModel
from stackeval.models.catalog import ModelSpec
from stackeval.stack.compose import ComposeOptions, ComposeStack
from stackeval.stack.compose_model import Role
from stackeval.stack.provision.provisioner import Provisioned, Provisioner

MODEL = ModelSpec(name="qwen2.5-coder:1.5b", kind="chat", sha256="ab" * 32, size_bytes=10,
                  quantization="Q4_K_M", n_ctx=4096)
ROLES = {"inference": Role("ollama", "ollama", 11434),
         "gateway": Role("one-api", "one-api", 3000, admin_password="123456"),
         "webui": Role("open-webui", "open-webui", 8080)}
URLS = {"inference": "http://127.0.0.1:11434", "gateway": "http://127.0.0.1:3000",
        "webui": "http://127.0.0.1:8080"}


class Services(httpx.MockTransport):
    """Ollama, One-API and Open WebUI by port; records every request it answered."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, Any]] = []
        self.pulled: list[str] = []
        super().__init__(self._answer)

    def _answer(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.read() or b"null")
        key = (request.url.port, request.method, request.url.path)
        self.seen.append((request.method, request.url.path, body))
        if key == (11434, "POST", "/api/pull"):
            self.pulled.append(body["model"])
            lines = [{"status": "pulling manifest"}, {"status": "success"}]
            return httpx.Response(200, content="\n".join(map(json.dumps, lines)).encode())
        if key == (11434, "GET", "/api/tags"):
            return httpx.Response(200, json={"models": [
                {"name": m, "digest": "0123456789abcdef", "size": 986_000_000,
                 "details": {"quantization_level": "Q4_K_M"}} for m in self.pulled]})
        if key == (3000, "GET", "/v1/models"):
            assert request.headers["authorization"] == "Bearer sk-minted"
            return httpx.Response(200, json={"data": [{"id": MODEL.name}]})
        if key == (3000, "POST", "/api/token/"):
            return httpx.Response(200, json={"success": True, "data": {"key": "minted"}})
        if key == (8080, "POST", "/api/v1/auths/signup"):
            return httpx.Response(200, json={"token": "eyJ.admin", "role": "admin"})
        replies = {(11434, "GET", "/api/version"): {"version": "0.12.10"},
                   (3000, "GET", "/api/status"): {"success": True, "data": {"version": "v0.6.10"}},
                   (8080, "GET", "/api/version"): {"version": "0.6.36"},
                   (8080, "POST", "/openai/config/update"): {}}
        if key in replies:
            return httpx.Response(200, json=replies[key])
        if request.url.port == 3000:  # login, password change, channel
            return httpx.Response(200, json={"success": True, "message": ""},
                                  headers={"set-cookie": "session=s1; Path=/"})
        raise AssertionError(f"unexpected {key}")

    def body(self, method: str, path: str) -> Any:
        """The body of the one request sent to ``method path``."""
        (found,) = [b for m, p, b in self.seen if (m, p) == (method, path)]
        return found


def test_ollama_one_api_and_webui_are_provisioned_in_order():
    services = Services()
    out = Provisioner(ROLES, URLS, [MODEL], progress=False, transport=services).run("unused")
    assert services.pulled == [MODEL.name]
    channel = services.body("POST", "/api/channel/")
    assert (channel["type"], channel["base_url"], channel["models"]) == (
        30, "http://ollama:11434", MODEL.name)  # Ollama's native API, by service name
    webui = services.body("POST", "/openai/config/update")
    assert webui["OPENAI_API_BASE_URLS"] == ["http://one-api:3000/v1"]
    assert webui["OPENAI_API_KEYS"] == ["sk-minted"]
    assert out.gateway_key == "sk-minted" and out.webui_token == "eyJ.admin"
    assert out.versions == {"inference": "Ollama 0.12.10", "gateway": "One-API v0.6.10",
                            "webui": "Open WebUI 0.6.36"}
    assert out.secrets["one_api_root_password"] != "123456"  # replaced at provisioning
    assert MODEL.name in out.ollama_models


def test_an_unserved_model_and_a_keyless_litellm_name_the_problem():
    roles = {"inference": Role("llama", "openai", 8080), "gateway": Role("gw", "litellm", 4000)}

    def llama(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"data": [{"id": "smollm2:135m"}]})

    provisioner = Provisioner(roles, {"inference": "http://127.0.0.1:1", "gateway": "x"},
                              [MODEL], transport=httpx.MockTransport(llama))
    with pytest.raises(UnknownModel, match=r"service llama does not serve 'qwen2.5-coder:1.5b' "
                       r"\(it serves: smollm2:135m\)"):
        provisioner.run("img")
    with pytest.raises(ConfigError, match="x-stackeval.gateway.key is required"):
        provisioner.gateway(Provisioned(), "img")


def test_served_reads_the_given_specs_never_the_catalog(tmp_path, monkeypatch):
    import stackeval.models.catalog as catalog

    monkeypatch.setattr(catalog, "load_catalog", lambda *a, **k: pytest.fail("catalog reloaded"))
    settings = Settings(stack="compose", reports_dir=tmp_path)
    pulled = ComposeStack(settings, [MODEL])
    pulled.roles, pulled.ports = ROLES, {"inference": 11434, "gateway": 3000}
    pulled.provisioned = Provisioned(versions={"inference": "Ollama 0.12.10"}, ollama_models={
        MODEL.name: {"digest": "0123456789abcdef", "size": 986, "details": {
            "quantization_level": "Q8_0"}}})
    served = pulled.served(MODEL.name)
    assert (served.kind, served.server, served.file, served.quantization, served.sha256) == (
        "chat", "Ollama 0.12.10", "ollama 0123456789ab", "Q8_0", None)  # Ollama's own build
    imported = ComposeStack(settings, [MODEL], options=ComposeOptions(model_source="import"))
    imported.roles, imported.provisioned = ROLES, pulled.provisioned
    served = imported.served(MODEL.name)
    assert (served.sha256, served.quantization, served.context_size) == (
        MODEL.sha256, "Q4_K_M", 4096)  # the catalog's file, as imported

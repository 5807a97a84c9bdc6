"""Provisioning clients for Ollama, One-API and Open WebUI, replayed from transcripts.

The transcripts (tests/transcripts/ollama_*, one_api_*, open_webui_*) are built from the
documented API shapes in ../shared/STACK-APIS.md, not recorded live: those images cannot run
on the CI machine. The replay checks method, path, body fields and auth of every request.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from stackeval.errors import PullError, StackError
from stackeval.stack.provision.ollama import NativeMetrics, OllamaClient
from stackeval.stack.provision.one_api import OneApiClient, provision_one_api
from stackeval.stack.provision.open_webui import OpenWebUIClient

TRANSCRIPTS = Path(__file__).parent / "transcripts"


class Replay(httpx.MockTransport):
    """Answers requests in transcript order; fails on any request the transcript did not expect."""

    def __init__(self, name: str, **subst: str) -> None:
        text = (TRANSCRIPTS / name).read_text()
        for key, value in subst.items():
            text = text.replace("{" + key + "}", value)
        self.pending: list[dict[str, Any]] = json.loads(text)["exchanges"]
        super().__init__(self._answer)

    def _answer(self, request: httpx.Request) -> httpx.Response:
        assert self.pending, f"unexpected {request.method} {request.url.path}"
        want, reply = self.pending[0]["request"], self.pending.pop(0)["response"]
        assert (request.method, request.url.raw_path.decode()) == (want["method"], want["path"])
        if "json" in want:
            _match(want["json"], json.loads(request.read()))
        if want.get("cookie"):
            assert "session=" in request.headers.get("cookie", ""), "no session cookie sent"
        if want.get("bearer"):
            assert request.headers.get("authorization", "").startswith("Bearer ey")
        if "lines" in reply:
            content = "\n".join(json.dumps(line) for line in reply["lines"]) + "\n"
        else:
            content = json.dumps(reply["json"]) if "json" in reply else ""
        return httpx.Response(reply["status"], headers=reply.get("headers"),
                              content=content.encode())


def _match(want: Any, got: Any) -> None:
    """Every field the transcript names must be sent with that value ("*": any value)."""
    if want == "*":
        return
    if isinstance(want, dict):
        for key, value in want.items():
            assert key in got, f"request lacks {key!r}: {got}"
            _match(value, got[key])
    else:
        assert want == got


def test_ollama_pull_streams_progress_to_success():
    transport = Replay("ollama_pull.json")
    with OllamaClient("http://127.0.0.1:11434", transport=transport) as ollama:
        ollama.pull("smollm2:135m", progress=False)
    assert not transport.pending


def test_ollama_pull_unknown_name_says_what_to_do():
    with OllamaClient("http://ollama", transport=Replay("ollama_pull_unknown.json")) as ollama:
        with pytest.raises(PullError) as err:
            ollama.pull("nosuchmodel:7b", progress=False)
    msg = str(err.value)
    assert "nosuchmodel:7b" in msg and "file does not exist" in msg
    assert "ollama.com/library" in msg and "--model-source import" in msg


def test_ollama_import_uploads_blob_then_creates(tmp_path):
    gguf = tmp_path / "smollm2-135m.gguf"
    gguf.write_bytes(b"GGUF" + bytes(1000))
    sha = hashlib.sha256(gguf.read_bytes()).hexdigest()
    transport = Replay("ollama_import.json", sha256=sha)
    with OllamaClient("http://ollama", transport=transport) as ollama:
        ollama.import_gguf("smollm2:135m", gguf, parameters={"num_ctx": 4096}, progress=False)
    assert not transport.pending


def test_ollama_native_metrics_load_and_unknown_model():
    transport = Replay("ollama_generate.json")
    with OllamaClient("http://ollama", transport=transport) as ollama:
        assert ollama.load("smollm2:135m") >= 0
        metrics = ollama.generate_metrics("smollm2:135m", "What is the capital of France?")
        ollama.unload("smollm2:135m")
        with pytest.raises(StackError, match="does not have model 'nosuchmodel:7b'.*pull it"):
            ollama.load("nosuchmodel:7b")
    assert metrics == NativeMetrics(
        model="smollm2:135m", eval_count=8, eval_duration_s=0.16, prompt_eval_count=36,
        prompt_eval_duration_s=0.058, load_duration_s=0.021, total_duration_s=0.412,
        done_reason="stop")
    assert metrics.decode_tokens_per_s == pytest.approx(50.0)
    assert NativeMetrics.from_response({"model": "m", "done": True}).decode_tokens_per_s is None


def test_one_api_provisioning_without_clicks():
    transport = Replay("one_api_provision.json")
    with OneApiClient("http://127.0.0.1:3000", transport=transport) as one_api:
        access = provision_one_api(one_api, models=["smollm2:135m", "qwen2.5-coder:0.5b"],
                                   upstream="http://ollama:11434")
    assert not transport.pending
    assert access.token == "sk-Zk3xq7Lr0PbN2cV9mT4wYh8sJd1uFg6aEo5iRk2nQp7tWz3B"
    assert access.version == "v0.6.10"
    assert access.root_password != "123456" and 8 <= len(access.root_password) <= 20
    assert access.token not in repr(access)


def test_one_api_wrong_credentials_say_what_to_do():
    with OneApiClient("http://127.0.0.1:3000",
                      transport=Replay("one_api_login_refused.json")) as one_api:
        with pytest.raises(StackError) as err:
            provision_one_api(one_api, models=["m"], upstream="http://ollama:11434")
    msg = str(err.value)
    assert "refused user 'root'" in msg and "用户名或密码错误" in msg
    assert "ONE_API_ROOT_PASSWORD" in msg and "\n" not in msg


def test_open_webui_first_admin_and_gateway_connection():
    transport = Replay("open_webui_provision.json")
    with OpenWebUIClient("http://127.0.0.1:8080", transport=transport) as webui:
        token = webui.create_admin("stackeval", "admin@stackeval.local", "pw-123456789")
        webui.connect_openai("http://one-api:3000/v1", "sk-test")
        assert webui.version() == "0.6.36"
    assert token.startswith("eyJ") and not transport.pending


def test_open_webui_existing_users_say_what_to_do():
    with OpenWebUIClient("http://webui", transport=Replay("open_webui_signin_refused.json")) as w:
        with pytest.raises(StackError, match="refused admin@x.*remove the volume"):
            w.create_admin("stackeval", "admin@x", "pw")

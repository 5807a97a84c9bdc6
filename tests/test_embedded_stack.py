"""The embedded stack for real: llama.cpp servers + LiteLLM gateway serving smollm2:135m."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx
import pytest

from stackeval.client import StreamingClient
from stackeval.config import Settings
from stackeval.errors import ServerGone, StackNotReady
from stackeval.models.resolve import resolve_models
from stackeval.records import ServedModel
from stackeval.stack.embedded import EmbeddedStack, LocalModel
from stackeval.stack.factory import create_stack

pytestmark = pytest.mark.integration
MODEL = "smollm2:135m"


def _run(settings: Settings) -> dict:
    """Where a stack built by hand writes its logs."""
    return {"run_id": settings.run_id, "reports_dir": settings.reports_dir}


@pytest.fixture(scope="module")
def smollm(tmp_path_factory) -> LocalModel:
    """smollm2 pulled once (a no-op when cached)."""
    settings = Settings(models=(MODEL,), reports_dir=tmp_path_factory.mktemp("reports"))
    stack = create_stack(settings, resolve_models(settings.models), progress=False)
    return stack._models[MODEL]


def test_answer_through_gateway_and_direct(tmp_path, smollm):
    settings = Settings(models=(MODEL,), reports_dir=tmp_path)
    with EmbeddedStack(settings, [smollm], **_run(settings)) as stack, StreamingClient(
            alive_check=stack.check_alive) as client:
        stack.acquire(MODEL)
        question = [{"role": "user", "content": "What is the capital of France?"}]
        via_gateway = client.chat(stack.endpoint(MODEL), question, max_tokens=24, temperature=0)
        direct = client.chat(stack.direct_endpoint(MODEL), question, max_tokens=24,
                             temperature=0)
        # The gateway needs the master key: without it the request is refused.
        bare = httpx.post(stack.endpoint(MODEL).base_url + "/chat/completions",
                          json={"model": MODEL, "messages": question}, timeout=30)
        served = stack.served(MODEL)
        pids = [p.pid for procs in stack._servers.values() for p in procs] + [
            stack._gateway.pid]
    assert via_gateway.text and via_gateway.output_tokens > 0
    assert via_gateway.token_source.value == "server_usage"
    assert direct.server_timings and direct.server_timings["predicted_n"] == direct.output_tokens
    assert bare.status_code == 401, bare.text
    assert served.sha256 == smollm.served.sha256 and "xllamacpp" in served.server
    for pid in pids:  # stopped on exit
        with pytest.raises(OSError):
            os.kill(pid, 0)


def test_one_model_loaded_at_a_time(tmp_path, smollm):
    # Two names for the same file: enough to watch the scheduler swap servers.
    models = [LocalModel(n, smollm.path, "chat", 1024, ServedModel(name=n)) for n in ("a", "b")]
    settings = Settings(models=("a", "b"), reports_dir=tmp_path, max_loaded_models=1)
    with EmbeddedStack(settings, models, **_run(settings)) as stack:
        stack.acquire("a")
        pid_a = stack._servers["a"][0].pid
        stack.acquire("b")
        assert list(stack._servers) == ["b"]
        with pytest.raises(OSError):
            os.kill(pid_a, 0)
        stack.release("b")
        assert not stack._servers


def test_dead_server_fails_fast(tmp_path, smollm):
    settings = Settings(models=(MODEL,), reports_dir=tmp_path, request_timeout=120)
    with EmbeddedStack(settings, [smollm], **_run(settings)) as stack, StreamingClient(
            alive_check=stack.check_alive, retries=3, backoff_s=5) as client:
        stack.acquire(MODEL)
        os.kill(stack._servers[MODEL][0].pid, signal.SIGKILL)
        started = time.perf_counter()
        with pytest.raises(ServerGone, match="has exited"):
            client.chat(stack.endpoint(MODEL), [{"role": "user", "content": "hi"}])
        assert time.perf_counter() - started < 30  # not the 120 s timeout nor a retry ladder
        with pytest.raises(ServerGone):
            stack.acquire(MODEL)


def test_start_failure_shows_command_and_log(tmp_path):
    bogus = tmp_path / "broken.gguf"
    bogus.write_bytes(b"GGUF" + os.urandom(4096))
    model = LocalModel("broken", bogus, "chat", 512, ServedModel(name="broken"))
    settings = Settings(models=("broken",), reports_dir=tmp_path, start_timeout=60)
    with EmbeddedStack(settings, [model], **_run(settings)) as stack:
        with pytest.raises(StackNotReady) as err:
            stack.acquire("broken")
    msg = str(err.value)
    assert "Command:" in msg and "stackeval/stack/llama_server.py" in msg
    assert "Log tail" in msg and Path(bogus).name in msg

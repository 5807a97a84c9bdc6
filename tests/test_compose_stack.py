"""The compose profile on a real Docker engine and the real ``docker compose`` v2, with the
locally built CI images.

Skipped when no Docker engine or no Compose v2 answers (failed in CI, ``CI=1``); builds the
images first when they are missing or stale (``.ci/docker.sh`` builds them before the tests, so
this is normally a no-op).
"""

from __future__ import annotations

import math
import os
import socket
import subprocess
import time

import httpx
import pytest

from stackeval.client import StreamingClient
from stackeval.config import Settings
from stackeval.errors import StackError, UnknownModel
from stackeval.models.resolve import resolve_models
from stackeval.records import TokenSource
from stackeval.stack.compose import STACK_DIR, ComposeOptions, ComposeStack
from stackeval.stack.compose_cli import compose_version
from stackeval.stack.engine import OWNER_LABEL, RUN_LABEL, connect
from stackeval.stack.images import ensure_images
from stackeval.telemetry import Sampler

pytestmark = pytest.mark.integration
MODEL = "smollm2:135m"
CI = ComposeOptions(files=(STACK_DIR / "compose.ci.yaml",))


@pytest.fixture(scope="module")
def docker_client():
    try:
        compose_version()
        client = connect(timeout_s=900)
    except StackError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"Docker or Compose is not usable in CI (.ci/docker.sh sets both up): "
                        f"{exc}")
        pytest.skip(f"no Docker engine or Compose v2 answers: {exc}")
    ensure_images(client)
    return client


def leftovers(client, run_id: str) -> list[str]:
    """Names of containers, networks and volumes still labelled with the run id."""
    selector = {"label": f"{RUN_LABEL}={run_id}"}
    return [o.name for o in (*client.containers.list(all=True, filters=selector),
                             *client.networks.list(filters=selector),
                             *client.volumes.list(filters=selector))]


def test_qa_through_the_gateway_with_container_telemetry(tmp_path, docker_client):
    settings = Settings(stack="compose", models=(MODEL,), reports_dir=tmp_path)
    stack = ComposeStack(settings, resolve_models([MODEL], profile="compose"), options=CI,
                         progress=False)
    try:
        stack.start()
        assert len(leftovers(docker_client, settings.run_id)) == 3  # 2 containers + network
        stack.acquire(MODEL)
        containers = stack.container_names()
        sampler = Sampler(rate_hz=4, containers=list(containers.values()), gpu=False).start()
        with StreamingClient(alive_check=stack.check_alive) as client:
            answer = client.chat(stack.endpoint(MODEL),
                                 [{"role": "user", "content": "What is the capital of France?"}],
                                 max_tokens=24, temperature=0)
        time.sleep(2.5)  # docker stats needs two readings a second apart
        trace = sampler.stop()
        keyless = httpx.post(stack.endpoint(MODEL).base_url + "/chat/completions",
                             json={"model": MODEL, "messages": []}, timeout=30, trust_env=False)
        logs = stack.logs(20)
        served = stack.served(MODEL)
        state = (tmp_path / "stack" / settings.run_id / "compose.json").stat().st_mode & 0o777
    finally:
        stack.stop()
    assert answer.text and answer.output_tokens > 0
    assert answer.token_source is TokenSource.USAGE
    assert keyless.status_code == 401  # the gateway wants the run's key
    for name in containers.values():
        cpu = [v for v in trace.column(f"docker.{name}.cpu_percent") if not math.isnan(v)]
        mem = [v for v in trace.column(f"docker.{name}.mem_used_mib") if not math.isnan(v)]
        assert cpu and mem and max(mem) > 1, name
    assert set(logs) == {"llama", "gateway"} and "listening" in logs["llama"]
    assert served.sha256 and served.quantization == "Q4_1"  # the catalog file baked in
    assert state == 0o600
    assert leftovers(docker_client, settings.run_id) == []


def test_failed_starts_explain_and_leave_nothing(tmp_path, docker_client):
    # A crashed run's network (its owner pid is gone) is swept by the next start.
    dead = subprocess.Popen(["true"])
    dead.wait()
    docker_client.networks.create(
        "stackeval-crashed-test", labels={RUN_LABEL: "crashed-test",
                                          OWNER_LABEL: f"{socket.gethostname()}:{dead.pid}"})

    settings = Settings(stack="compose", models=("qwen2.5-coder:0.5b",), reports_dir=tmp_path)
    stack = ComposeStack(settings, resolve_models(settings.models, profile="compose"),
                         options=CI, progress=False)
    with pytest.raises(UnknownModel) as err:
        stack.start()
    first = str(err.value).splitlines()[0]
    assert "does not serve 'qwen2.5-coder:0.5b'" in first and "--models" in first
    assert "--- llama (last" in str(err.value)  # container log tails follow the cause
    assert leftovers(docker_client, settings.run_id) == []
    assert leftovers(docker_client, "crashed-test") == []  # swept at start

    compose = tmp_path / "compose.yaml"
    compose.write_text((STACK_DIR / "compose.ci.yaml").read_text().replace(
        "stackeval/litellm-gateway:local", "stackeval/no-such-image:1"))
    settings = Settings(stack="compose", models=(MODEL,), reports_dir=tmp_path)
    stack = ComposeStack(settings, resolve_models([MODEL], profile="compose"),
                         options=ComposeOptions(files=(compose,)))
    with pytest.raises(StackError) as err:
        stack.start()
    first = str(err.value).splitlines()[0]
    assert "image stackeval/no-such-image:1 (service gateway) is not on this machine" in first
    assert "python -m stackeval.stack.images" in first
    assert leftovers(docker_client, settings.run_id) == []

"""The embedded stack's gateway: a LiteLLM proxy child process playing One-API's part.

One URL and one master key in front of every llama.cpp server, routing by model name. It runs
the ``litellm`` command from the runtime venv (:mod:`stackeval.stack.runtime`); the harness only
writes its config and talks to it over HTTP.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from stackeval import progress
from stackeval.stack import runtime
from stackeval.stack.process import ManagedProcess
from stackeval.stack.readiness import HttpWait

VERSION = f"LiteLLM proxy {runtime.LITELLM_VERSION}"


@dataclass(frozen=True)
class Route:
    """A model name and the llama.cpp replicas (ports on 127.0.0.1) that serve it."""

    name: str
    kind: str  # chat | base
    ports: Sequence[int]


def gateway_config(routes: Iterable[Route]) -> dict[str, Any]:
    """LiteLLM proxy config: one route per model name, a master key, offline cost map."""
    model_list = []
    for r in routes:
        # Base models have no chat template: route them as text completions.
        provider = "text-completion-openai" if r.kind == "base" else "openai"
        # One deployment per replica under the same name; the router spreads requests.
        model_list += [{
            "model_name": r.name,
            "litellm_params": {"model": f"{provider}/{r.name}",
                               "api_base": f"http://127.0.0.1:{port}/v1",
                               "api_key": "none"},
        } for port in r.ports]
    return {
        "model_list": model_list,
        # LiteLLM reads the key from the environment, so no file on disk holds it.
        "general_settings": {"master_key": "os.environ/STACKEVAL_GATEWAY_KEY"},
        # Retries belong to our client, which records them; the gateway must not hide them.
        "litellm_settings": {"drop_params": True, "telemetry": False, "num_retries": 0},
        # least-busy: a replica with free slots gets the next request, so none queues
        # behind another while a slot is idle.
        "router_settings": {"num_retries": 0, "routing_strategy": "least-busy"},
    }


class LiteLLMGateway:
    """``litellm --config`` on 127.0.0.1:``port``, logging to ``run_dir/gateway.log``."""

    name = "litellm-gateway"

    def __init__(self, run_dir: Path, run_id: str, port: int, master_key: str, *,
                 pid: int | None = None, venv: Path | None = None) -> None:
        self.port = port
        self.config_path = run_dir / "gateway.yaml"
        self.process = ManagedProcess(
            name=self.name,
            argv=[str(runtime.executable("litellm", venv)), "--config", str(self.config_path),
                  "--host", "127.0.0.1", "--port", str(port), "--num_workers", "1"],
            log_path=run_dir / "gateway.log",
            run_id=run_id,
            env={"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_TELEMETRY": "False",
                 "LITELLM_LOG": "ERROR",
                 # LiteLLM aborts a stream that repeats a chunk 100 times with a 500; a looping
                 # small model is a wrong answer to grade, not an infrastructure error.
                 "REPEATED_STREAMING_CHUNK_LIMIT": "1000000",
                 "STACKEVAL_GATEWAY_KEY": master_key},
            pid=pid,  # attached to a running gateway (pytest-xdist workers)
        )
        self.venv = venv

    @property
    def pid(self) -> int | None:
        """The gateway's pid once started or attached."""
        return self.process.pid

    @property
    def log_path(self) -> Path:
        """The gateway's log file."""
        return self.process.log_path

    def start(self, routes: Iterable[Route], timeout_s: float) -> None:
        """Write the config, spawn the proxy and wait until it is live."""
        runtime.ensure(self.venv)
        self.config_path.parent.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(yaml.safe_dump(gateway_config(routes), sort_keys=False))
        progress.step("starting the LiteLLM gateway on 127.0.0.1:%d", self.port)
        self.process.start()
        HttpWait(f"http://127.0.0.1:{self.port}/health/liveliness", timeout_s,
                 hint=f"is {self.venv or runtime.default_venv()} a complete install? "
                      "`python -m stackeval.stack.runtime install --force` redoes it"
                 ).wait(self.process.popen, self.log_path, self.process.command)

    def alive(self) -> bool:
        """True while the proxy process runs."""
        return self.process.alive()

    def stop(self) -> None:
        """Stop the proxy and its workers."""
        self.process.stop()

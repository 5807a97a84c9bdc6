"""What the plugin attaches to Allure: service log tails on a harness error, the environment file.

Evals attach their own prompts and answers through :mod:`stackeval.attach`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from stackeval import attach
from stackeval.errors import StackEvalError
from stackeval.plugin.runtime import Runtime, runtime


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """On a harness error (not a wrong answer), attach every service's log tail to Allure."""
    outcome = yield
    rep = outcome.get_result()
    stack = runtime(item.config).started_stack
    if rep.failed and stack is not None and call.excinfo is not None \
            and call.excinfo.errisinstance(StackEvalError):
        for service, tail in stack.logs(50).items():
            attach.text(f"log: {service}", tail)


def write_environment(rt: Runtime, alluredir: Path) -> None:
    """Allure's environment.properties from the run's saved environment (no secrets)."""
    env_file = rt.run_dir / "environment.json"
    env = json.loads(env_file.read_text()) if env_file.exists() else rt.environment()
    flat = {"run_id": env["run_id"], "platform": env["platform"], "cpu_count": env["cpu_count"]}
    flat.update({f"stack.{k}": v for k, v in (env.get("stack") or {}).items()})
    for name, m in (env.get("models") or {}).items():
        flat[f"model.{name}"] = (f"{m.get('file')} sha256={m.get('sha256')} "
                                 f"{m.get('quantization')} ctx={m.get('context_size')} "
                                 f"kind={m.get('kind')}")
    attach.write_environment(alluredir, flat)

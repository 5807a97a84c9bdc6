"""The embedded stack's runtime venv and gateway config, without installing anything."""

from __future__ import annotations

import ast
import sys
import threading
import time
import tomllib
from pathlib import Path

import pytest
from filelock import FileLock

from stackeval.errors import StackError
from stackeval.stack import runtime
from stackeval.stack.gateway import LiteLLMGateway, Route, gateway_config

ROOT = Path(__file__).resolve().parents[1]
CHILD_ONLY = {"litellm", "prisma", "xllamacpp"}  # run as child processes from the runtime venv


def _fake_install(venv: Path) -> None:
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "litellm").touch()
    (venv / ".stackeval-installed").touch()


def test_core_install_leaves_the_stacks_programs_out():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {d.split("[")[0].split("=")[0].split(">")[0].strip().lower() for d in deps}
    assert not names & CHILD_ONLY
    imported = set()
    for path in (ROOT / "stackeval").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {(a.name.split(".")[0], path.name) for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                imported.add((node.module.split(".")[0], path.name))
    # Only the server's entry point, which runs with the runtime venv's python, imports one.
    assert {(m, f) for m, f in imported if m in CHILD_ONLY} == {("xllamacpp", "llama_server.py")}


def test_the_lock_pins_every_requirement_at_its_version():
    lock = {line.partition("==")[0].lower(): line.partition("==")[2]
            for line in runtime.LOCK_FILE.read_text().splitlines()
            if line and not line.startswith("#")}
    for req in runtime.REQUIREMENTS:
        name, _, version = req.partition("==")
        assert lock[name.split("[")[0]] == version


def test_default_venv_is_named_for_interpreter_and_pins(monkeypatch, tmp_path):
    monkeypatch.setenv("STACKEVAL_CACHE", str(tmp_path))
    venv = runtime.default_venv()
    assert venv.parent == tmp_path / "runtime"
    assert venv.name.startswith(f"py{sys.version_info.major}.{sys.version_info.minor}-")


def test_ensure_keeps_a_finished_install(tmp_path, monkeypatch):
    venv = tmp_path / "rt"
    _fake_install(venv)
    monkeypatch.setattr(runtime, "install", lambda *a: pytest.fail("reinstalled"))
    assert runtime.installed(venv) and runtime.ensure(venv) == venv
    assert runtime.site_packages(venv) is None  # no lib/python*/site-packages in the fake


def test_failed_install_names_the_venv_the_command_and_pips_words(tmp_path, monkeypatch):
    venv = tmp_path / "rt"
    failing = [sys.executable, "-c",
               "print('ERROR: No matching distribution'); raise SystemExit(1)"]
    monkeypatch.setattr(runtime, "install_steps", lambda v: [failing])
    with pytest.raises(StackError) as err:
        runtime.ensure(venv)
    text = str(err.value)
    assert str(venv) in text and "No matching distribution" in text and "raise SystemExit" in text
    assert not runtime.installed(venv)


def test_a_second_session_waits_for_the_first_install(tmp_path, monkeypatch):
    venv = tmp_path / "rt"
    held = threading.Event()

    def first_session() -> None:
        with FileLock(str(venv.with_name(venv.name + ".lock"))):
            held.set()
            time.sleep(0.5)  # mid-install
            _fake_install(venv)

    monkeypatch.setattr(runtime, "install", lambda *a: pytest.fail("installed twice"))
    other = threading.Thread(target=first_session)
    other.start()
    held.wait(5)
    assert runtime.ensure(venv) == venv
    other.join()


def test_gateway_config_routes_every_replica_and_base_models_as_completions():
    cfg = gateway_config([Route("chat-m", "chat", (5001, 5002)), Route("base-m", "base", (5003,))])
    assert [(r["model_name"], r["litellm_params"]["model"], r["litellm_params"]["api_base"])
            for r in cfg["model_list"]] == [
        ("chat-m", "openai/chat-m", "http://127.0.0.1:5001/v1"),
        ("chat-m", "openai/chat-m", "http://127.0.0.1:5002/v1"),
        ("base-m", "text-completion-openai/base-m", "http://127.0.0.1:5003/v1")]
    assert cfg["general_settings"]["master_key"] == "os.environ/STACKEVAL_GATEWAY_KEY"
    assert cfg["litellm_settings"]["num_retries"] == 0


def test_gateway_runs_the_runtime_venvs_litellm_with_the_key_in_its_environment(tmp_path):
    gw = LiteLLMGateway(tmp_path, "run-1", 4123, "sk-secret", pid=42, venv=tmp_path / "rt")
    assert gw.process.argv[0] == str(tmp_path / "rt" / "bin" / "litellm")
    assert gw.process.argv[-4:] == ["--port", "4123", "--num_workers", "1"]
    assert "sk-secret" not in gw.process.command  # `ps` must not show it
    assert gw.process.env["STACKEVAL_GATEWAY_KEY"] == "sk-secret"
    assert (gw.pid, gw.log_path) == (42, tmp_path / "gateway.log")

"""The compose definition stackeval reads (no Docker needed): files, roles, ports, bad input."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from stackeval.config import Settings
from stackeval.errors import ConfigError, StackError
from stackeval.stack.compose import (
    DEFAULT_COMPOSE,
    GPU_OVERRIDE,
    STACK_DIR,
    TIKTOKEN_FILES,
    ComposeOptions,
    ComposeStack,
    connect,
)
from stackeval.stack.composefile import Port, check_ports_free, interpolate, load_project

CI_FILE = STACK_DIR / "compose.ci.yaml"


def test_user_stack_roles_ports_and_kept_volumes():
    project = load_project((DEFAULT_COMPOSE,), {})
    assert list(project.services) == ["ollama", "one-api", "open-webui"]  # vllm: profile only
    assert {r: (x.service, x.api) for r, x in project.roles.items()} == {
        "inference": ("ollama", "ollama"), "gateway": ("one-api", "one-api"),
        "webui": ("open-webui", "open-webui")}
    assert project.roles["gateway"].admin_password == "123456"
    assert project.services["ollama"].ports == (Port(11434, 11434, "127.0.0.1"),)
    assert all(p.host_ip == "127.0.0.1" for s in project.services.values() for p in s.ports)
    assert project.services["ollama"].healthcheck["interval"] == 3_000_000_000
    assert project.keep_volumes == {"ollama", "one-api-tiktoken"}
    assert all(":" in s.image and not s.image.endswith(":latest")
               for s in project.services.values())  # pinned tags
    assert ("volume", "one-api-tiktoken", "/tiktoken", "rw") in project.services["one-api"].volumes


def test_harness_mounts_litellms_tiktoken_files_for_one_api(tmp_path):
    stack = ComposeStack(Settings(stack="compose", reports_dir=tmp_path), ["smollm2:135m"])
    project = load_project((DEFAULT_COMPOSE,), stack._variables())
    kind, source, target, mode = project.services["one-api"].volumes[1]
    assert (kind, target, mode) == ("bind", "/tiktoken", "ro")
    assert all((Path(source) / name).stat().st_size > 1e6 for name in TIKTOKEN_FILES)


def test_overrides_gpu_mysql_and_profiles():
    files = (DEFAULT_COMPOSE, STACK_DIR / "compose.mysql.yaml", GPU_OVERRIDE)
    project = load_project(files, {"ONE_API_DB_PASSWORD": "pw"}, profiles=("vllm",))
    assert list(project.services)[:3] == ["ollama", "mysql", "redis"]  # dependencies first
    assert "vllm" in project.services
    one_api = project.services["one-api"]
    assert one_api.environment["SQL_DSN"] == "oneapi:pw@tcp(mysql:3306)/oneapi"
    assert one_api.environment["TIKTOKEN_CACHE_DIR"] == "/tiktoken"  # merged, not replaced
    assert set(one_api.depends_on) == {"ollama", "mysql", "redis"}
    assert project.services["ollama"].gpu_requests[0]["count"] == "all"


def test_ci_file_uses_local_images_and_the_run_key():
    project = load_project((CI_FILE,), {"STACKEVAL_GATEWAY_KEY": "sk-run"})
    assert project.roles["gateway"].key == "sk-run"
    assert project.services["gateway"].environment["LITELLM_MASTER_KEY"] == "sk-run"
    assert all(s.image.startswith("stackeval/") for s in project.services.values())
    assert all(p.host_port is None for s in project.services.values() for p in s.ports)
    assert "0.0.0.0" in project.services["llama"].command  # listen inside the container


def test_interpolation_forms():
    env = {"SET": "x", "EMPTY": ""}
    assert interpolate("${SET}-${UNSET:-d}-${EMPTY:-e}-${EMPTY-f}-$${SET}", env) == "x-d-e--${SET}"
    with pytest.raises(ConfigError, match="NEEDED} must be set: give it"):
        interpolate("${NEEDED:?give it}", env)


@pytest.mark.parametrize(("body", "match"), [
    ("services:\n  a:\n    image: x:1\n    ports: ['0.0.0.0:80:80']\n", "127.0.0.1 only"),
    ("services:\n  a:\n    build: .\n", "needs an image"),
    ("services:\n  a:\n    image: x:1\n    depends_on: [b]\n", "unknown or disabled"),
    ("services:\n  a:\n    image: x:1\n    volumes: ['data:/d']\n", "not declared"),
    ("services:\n  a:\n    image: x:1\n    ports: ['127.0.0.1:8080:8080']\n"
     "x-stackeval:\n  inference: {service: a, api: vllm, port: 8080}\n", "choose ollama or"),
    ("services:\n  a:\n    image: x:1\n    ports: ['127.0.0.1:8080:8080']\n"
     "x-stackeval:\n  inference: {service: a, api: openai, port: 9}\n", "must publish port 9"),
    ("services: [\n", "not valid YAML"),
])
def test_bad_compose_files_name_the_problem(tmp_path, body, match):
    path = tmp_path / "compose.yaml"
    path.write_text(body)
    with pytest.raises(ConfigError, match=match):
        load_project((path,))


def test_missing_compose_file_says_which_option():
    with pytest.raises(ConfigError, match="nope.yaml.*--compose-file"):
        load_project((Path("nope.yaml"),))


def test_port_already_taken_is_one_line_with_what_to_do():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        project = load_project((DEFAULT_COMPOSE,), {"ONE_API_PORT": str(port)})
        with pytest.raises(StackError) as err:
            check_ports_free(project)
    msg = str(err.value)
    assert f"127.0.0.1:{port} for service one-api is already in use" in msg
    assert "stop what holds it" in msg and "\n" not in msg


def test_docker_not_running_is_one_line_with_what_to_do(monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no.sock")
    with pytest.raises(StackError) as err:
        connect()
    msg = str(err.value)
    assert msg.startswith(f"no Docker engine answers at unix://{tmp_path}/no.sock")
    assert "start it" in msg and "\n" not in msg


def test_options_from_settings_and_no_io_in_constructor(tmp_path):
    settings = Settings(stack="compose", reports_dir=tmp_path)
    assert ComposeOptions.from_settings(settings) == ComposeOptions()
    opts = ComposeOptions(files=(CI_FILE,), gpu=True)
    assert opts.all_files() == (CI_FILE, GPU_OVERRIDE)
    stack = ComposeStack(settings, ["smollm2:135m"], options=opts)  # no Docker touched
    assert stack.describe()["compose_files"] == [str(CI_FILE), str(GPU_OVERRIDE)]
    stack.stop()  # nothing was created: nothing to remove, no Docker needed

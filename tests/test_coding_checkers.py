"""Checks of extracted programs in the sandbox: HumanEval, our Python tasks, the bash lab."""

from __future__ import annotations

import json

import pytest

from stackeval.coding import bashlab
from stackeval.coding.cases import run_case
from stackeval.coding.checkers import check_code
from stackeval.coding.runner import evaluate_answer
from stackeval.coding.tasks import CodingTask, load_bashlab, load_humaneval, load_python_tasks
from stackeval.records import Outcome
from stackeval.sandbox import Sandbox


@pytest.fixture(scope="module")
def sandbox(bwrap_sandbox: Sandbox) -> Sandbox:
    return bwrap_sandbox


HUMANEVAL = load_humaneval(limit=5)
BASHLAB = {t.test: t for t in load_bashlab()}


@pytest.mark.parametrize("task", HUMANEVAL, ids=lambda t: t.id)
def test_humaneval_canonical_solution_passes(task: CodingTask, sandbox: Sandbox) -> None:
    body = task.reference[len(task.stub) :]
    run = check_code(task, body, sandbox)  # the canonical answer is a bare body
    assert run.passed, run.explanation
    assert run.time_limit_s >= 2.0


def test_humaneval_wrong_answer_names_expected_and_actual(sandbox: Sandbox) -> None:
    task = HUMANEVAL[0]
    run = check_code(
        task, "def has_close_elements(numbers, threshold):\n    return False\n", sandbox
    )
    assert run.outcome is Outcome.WRONG
    assert "assert candidate([1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.3) == True" in run.explanation
    assert "got False, expected True" in run.explanation


@pytest.mark.parametrize(
    ("code", "outcome", "message"),
    [
        (
            "def has_close_elements(n, t):\n    return n[99]\n",
            Outcome.RUNTIME_ERROR,
            "IndexError",
        ),
        ("def has_close_elements(n, t)\n    return 1\n", Outcome.RUNTIME_ERROR, "SyntaxError"),
        ("import sys\nsys.exit(0)\n", Outcome.RUNTIME_ERROR, "SystemExit"),
        ("import os\nos._exit(0)\n", Outcome.RUNTIME_ERROR, "before the tests finished"),
        (
            "def has_close_elements(n, t):\n    while True:\n        pass\n",
            Outcome.TIMEOUT,
            "timed out",
        ),
        ("x = bytearray(4 * 1024**3)\n", Outcome.SANDBOX_VIOLATION, "MemoryError"),
        ("", Outcome.NO_CODE, "no code"),
    ],
    ids=["index-error", "syntax", "sys-exit", "os-exit", "endless", "memory", "empty"],
)
def test_humaneval_failure_kinds(
    code: str, outcome: Outcome, message: str, sandbox: Sandbox
) -> None:
    run = check_code(HUMANEVAL[0], code, sandbox)
    assert run.outcome is outcome and message in run.explanation, run


@pytest.mark.parametrize("task", load_python_tasks(), ids=lambda t: t.id)
def test_python_task_reference_passes(task: CodingTask, sandbox: Sandbox) -> None:
    assert check_code(task, task.reference, sandbox).passed


def test_evaluate_answer_end_to_end(sandbox: Sandbox) -> None:
    task = next(t for t in load_python_tasks() if t.entry_point == "top_words")
    answer = f"<think>Counter is easiest.</think>\nHere it is:\n```python\n{task.reference}```\n"
    outcome = evaluate_answer(task, answer, sandbox)
    assert outcome.passed and outcome.sandbox == "bwrap" and outcome.quality.available
    record = json.loads(json.dumps(outcome.to_dict()))
    assert (
        record["outcome"] == "pass"
        and record["run"]["cases"] == 1
        and "def top_words" in record["code"]
    )
    wrong = evaluate_answer(task, "```python\ndef top_words(text, n):\n    return []\n```", sandbox)
    assert (
        wrong.outcome is Outcome.WRONG
        and "expected [('the', 2), ('and', 1)]" in wrong.explanation
    )


@pytest.mark.parametrize("checker", sorted(BASHLAB))
def test_bashlab_reference_passes(checker: str, sandbox: Sandbox) -> None:
    task = BASHLAB[checker]
    run = check_code(task, task.reference, sandbox)
    assert run.passed, run.failures
    assert run.cases >= 6
    assert run.partial == 1.0 and len(run.checks) >= 7 and all(ok for _, ok in run.checks)


def _case_failures(checker: str, script: str, option: str, sandbox: Sandbox) -> list[str]:
    task = BASHLAB[checker]
    case = next(
        c for c in bashlab.bash_cases(checker, task.entry_point, script) if c.name == option
    )
    return run_case(case, sandbox, timeout_s=30)[1].failures


def _mutate(checker: str, old: str, new: str) -> str:
    reference = BASHLAB[checker].reference
    assert old in reference
    return reference.replace(old, new)


def test_worldcup_wrong_scripts_fail(sandbox: Sandbox) -> None:
    off_by_one = _mutate("worldcup", "$6 <= 30", "$6 < 30")
    failures = _case_failures("worldcup", off_by_one, "--age", sandbox)
    assert any("20-30" in f and "expected" in f for f in failures), failures
    everyone = _mutate("worldcup", "if (len[i] == max) print", "print")
    failures = _case_failures("worldcup", everyone, "--name", sandbox)
    assert any("also prints" in f for f in failures), failures
    run = check_code(BASHLAB["worldcup"], "#!/bin/bash\necho 'not implemented'\n", sandbox)
    assert run.outcome is Outcome.WRONG and len(run.failures) >= 5
    # --help's two sub-checks fail too: it lists no option, so its exit status 0 earns nothing
    assert run.partial == 0.0 and len(run.checks) == 14


def _failed_checks(checker: str, script: str, sandbox: Sandbox) -> list[str]:
    run = check_code(BASHLAB[checker], script, sandbox)
    assert run.partial == sum(ok for _, ok in run.checks) / len(run.checks)
    return [name for name, ok in run.checks if not ok]


# Wrong answers to the World Cup task, each a small change of the reference, and the only
# sub-checks each must fail on the generated data (which has every trait of the course's file).
WORLDCUP_MISTAKES = {
    "name length in bytes": (
        'function chars(s,   t) { t = s; return length(s) - gsub(/[\\200-\\277]/, "", t) }',
        "function chars(s) { return length(s) }",
        ["--name longest", "--name shortest"],
    ),
    "longest and shortest swapped": (
        'if (len[i] == max) print "longest\\t"',
        'if (len[i] == max) print "shortest\\t"',
        ["--name longest", "--name shortest"],
    ),
    "blanks after names counted": (
        'NR > 1 { gsub(/^ +| +$/, "", $9); player[NR] = $9; len[NR]',
        "NR > 1 { player[NR] = $9; len[NR]",
        ["--name longest", "--name shortest"],
    ),
    "ties ignored": (
        'if (age[i] == best) print player[i] "\\t" age[i] }',
        'if (age[i] == best) { print player[i] "\\t" age[i]; exit } }',
        ["--oldest", "--youngest"],
    ),
    "players keyed by name": (
        "player[NR] = $9; age[NR] = $6 + 0",
        "player[NR] = $9; by_name[$9] = $6 + 0; age[NR] = $6 + 0 } END { for (i = 2; i <= NR; "
        "i++) age[i] = by_name[player[i]] } NR > 1 {",
        ["--oldest"],
    ),
    "foreign position dropped": (
        "NR > 1 { n++; count[$5]++ }",
        "NR > 1 { n++; if ($5 != \"Défenseur\") count[$5]++ }",
        ["--position Défenseur"],
    ),
    "header counted as a player": (
        "NR > 1 { n++; if ($6 < 20)", "{ n++; if ($6 < 20)", ["--age 20-30", "--age >30"]
    ),
}


@pytest.mark.parametrize("mistake", sorted(WORLDCUP_MISTAKES))
def test_worldcup_mistakes_fail_their_own_sub_checks(mistake: str, sandbox: Sandbox) -> None:
    old, new, expected = WORLDCUP_MISTAKES[mistake]
    assert _failed_checks("worldcup", _mutate("worldcup", old, new), sandbox) == expected


def test_worldcup_merged_foreign_position_passes(sandbox: Sandbox) -> None:
    merged = _mutate(
        "worldcup",
        "NR > 1 { n++; count[$5]++ }",
        'NR > 1 { n++; p = $5; if (p == "Défenseur") p = "Defender"; count[p]++ }',
    )
    assert _failed_checks("worldcup", merged, sandbox) == []


def test_weblog_wrong_scripts_fail(sandbox: Sandbox) -> None:
    top10 = _mutate("weblog", "NR <= 100", "NR <= 10")
    failures = _case_failures("weblog", top10, "--top-hosts", sandbox)
    assert any("expected 100" in f for f in failures), failures
    ascending = _mutate("weblog", "sort -k1,1nr -k2", "sort -k1,1n -k2")
    failures = _case_failures("weblog", ascending, "--top-urls", sandbox)
    assert any("not in the top 100" in f or "not sorted" in f for f in failures), failures
    no_pct = _mutate("weblog", "100 * count[s] / n }", "0 }")
    failures = _case_failures("weblog", no_pct, "--status", sandbox)
    assert any(f.startswith("--status 200: expected") for f in failures), failures
    all_hosts = _mutate("weblog", "NR > 1 && $1 ~ /^[0-9]+", "NR > 1 || $1 ~ /^[0-9]+")
    failures = _case_failures("weblog", all_hosts, "--top-ips", sandbox)
    assert any("does not belong" in f for f in failures), failures
    # host names that start with an address or with digits are not IPv4 addresses
    for pattern in ("/^[0-9]+\\.[0-9]+\\.[0-9]+\\.[0-9]+/", "/^[0-9]/"):
        loose = _mutate("weblog", "/^[0-9]+\\.[0-9]+\\.[0-9]+\\.[0-9]+$/", pattern)
        assert _failed_checks("weblog", loose, sandbox) == ["--top-ips"]
    split_on_commas = _mutate("weblog", "--top-urls) awk -F'\\t'", "--top-urls) awk -F'[\\t,]'")
    assert _failed_checks("weblog", split_on_commas, sandbox) == ["--top-urls"]
    one_list = _mutate("weblog", "sort -k2,2n -k1,1nr | awk '++seen[$2] <= 10",
                       "sort -k1,1nr | awk 'NR <= 10")
    assert _failed_checks("weblog", one_list, sandbox) == ["--4xx 400", "--4xx 403", "--4xx 404"]


def test_imgproc_wrong_scripts_fail(sandbox: Sandbox) -> None:
    stretched = _mutate("imgproc", '-resize "${arg}x${arg}>"', '-resize "${arg}x${arg}!"')
    failures = _case_failures("imgproc", stretched, "--resize", sandbox)
    assert any("expected 67x100" in f for f in failures), failures
    copies = _mutate(
        "imgproc", 'convert "$file" -quality "$arg" "$out/$name"', 'cp "$file" "$out/$name"'
    )
    failures = _case_failures("imgproc", copies, "--quality", sandbox)
    assert any("JPEG quality 92, expected 50" in f for f in failures), failures
    no_mark = _mutate("imgproc", '-annotate +5+5 "$arg"', "-quality 92")
    failures = _case_failures("imgproc", no_mark, "--watermark", sandbox)
    assert any("looks unchanged" in f for f in failures), failures
    failures = _case_failures("imgproc", "#!/bin/bash\nexit 3\n", "--to-jpg", sandbox)
    assert failures[0].startswith("--to-jpg: exit status 3") and any(
        "not written" in f for f in failures
    )
    failures = _case_failures(
        "imgproc", "#!/bin/bash\necho usage: imgproc.sh --quality\n", "--help", sandbox
    )
    assert any("does not mention --resize" in f for f in failures), failures


def test_a_hanging_script_times_out_once(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    from stackeval.coding import checkers

    monkeypatch.setattr(checkers, "time_limits", lambda task, sandbox: {"--help": 0.5})
    monkeypatch.setitem(checkers.MIN_LIMIT_S, "bash", 0.5)
    run = check_code(BASHLAB["worldcup"], "#!/bin/bash\nsleep 30\n", sandbox)
    assert run.outcome is Outcome.TIMEOUT
    assert run.failures == ("--help: timed out after 0.5 s", "--help: 5 later case(s) not run")
    assert len(run.checks) == 14 and run.partial == 0.0  # the cases not run failed too
    assert run.duration_s < 10  # nowhere near the script's 30 s: the first timeout ended it

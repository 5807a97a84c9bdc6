"""MBPP from its official file layouts, checked in the sandbox like HumanEval (made-up files)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stackeval.coding import build_prompt, evaluate_answer
from stackeval.coding.mbpp import load, load_all, load_template, parse_spec, suites_with
from stackeval.errors import ConfigError
from stackeval.records import Outcome
from stackeval.sandbox import Sandbox

pytest_plugins = ["pytester"]

# the layout of mbpp.jsonl (google-research/mbpp), CRLF line ends and all
ROWS = [
    {"task_id": 2, "text": "Write a function to find the shared elements from the given two "
     "lists.", "code": "def similar_elements(a, b):\r\n  return tuple(set(a) & set(b))",
     "test_list": ["assert set(similar_elements((3, 4, 5, 6),(5, 7, 4, 10))) == set((4, 5))"],
     "test_setup_code": "", "challenge_test_list": []},
    {"task_id": 11, "text": "Write a python function to remove first and last occurrence of a "
     "given character from the string.",
     "code": "def remove_Occ(s,ch): \r\n    i = s.find(ch)\r\n    if i >= 0:\r\n        "
     "s = s[:i] + s[i + 1:]\r\n    j = s.rfind(ch)\r\n    if j >= 0:\r\n        "
     "s = s[:j] + s[j + 1:]\r\n    return s ",
     "test_list": ['assert remove_Occ("hello","l") == "heo"',
                   'assert remove_Occ("abcda","a") == "bcd"',
                   'assert remove_Occ("PHP","P") == "H"'],
     "test_setup_code": "", "challenge_test_list": ['assert remove_Occ("hellolloll","l") == '
                                                    '"helollol"']},
    {"task_id": 12, "text": "Write a function to find the hypotenuse of a right triangle.",
     "code": "import math\r\ndef hyp(a, b):\r\n  return math.sqrt(a * a + b * b)",
     # the asserts use math from the reference's imports, as in the original harness
     "test_list": ["assert math.isclose(hyp(3, 4), 5.0)"],
     "test_setup_code": "", "challenge_test_list": []},
    {"task_id": 13, "text": "Write a function to find the longest chain from the given pairs.",
     "code": "class Pair(object):\r\n\tdef __init__(self, a, b):\r\n\t\tself.a = a\r\n"
     "def max_chain_length(arr, n):\r\n\treturn n",
     "test_list": ["assert max_chain_length([Pair(5, 24), Pair(15, 25)], 2) == 2"],
     "test_setup_code": "", "challenge_test_list": []},
]


@pytest.fixture(scope="module")
def sandbox(bwrap_sandbox: Sandbox) -> Sandbox:
    return bwrap_sandbox


@pytest.fixture
def jsonl(tmp_path: Path) -> Path:
    path = tmp_path / "mbpp.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in ROWS), encoding="utf-8")
    return path


def test_jsonl_becomes_tasks_of_the_test_split(jsonl: Path) -> None:
    tasks = load(f"mbpp:{jsonl}")
    # task 2 is in the prompt split; 13's asserts need the reference's class Pair: left out
    assert [t.id for t in tasks] == ["mbpp/11", "mbpp/12"]
    occ = tasks[0]
    assert (occ.suite, occ.language, occ.entry_point, occ.stub) == ("mbpp", "python",
                                                                    "remove_Occ", "")
    assert "\r" not in occ.reference and occ.source == f"{jsonl}:2"
    assert "remove first and last occurrence" in occ.prompt_en
    assert 'assert remove_Occ("PHP","P") == "H"' in occ.prompt_en
    assert "hellolloll" not in occ.test  # challenge asserts only on request
    assert [t.id for t in load(f"mbpp:{jsonl}?split=all&limit=2")] == ["mbpp/2", "mbpp/11"]
    challenge = load(f"mbpp:{jsonl}?challenge=1&limit=1")[0]
    assert "hellolloll" in challenge.test


def test_prompt_comes_from_the_template_with_shots(jsonl: Path) -> None:
    template = load_template()
    task = load(f"mbpp:{jsonl}?shots=1&limit=1")[0]
    assert task.prompt_en.startswith(template["instruction"])
    assert task.prompt_en.count(template["instruction"]) == 2  # the worked example, then ours
    assert "return tuple(set(a) & set(b))" in task.prompt_en  # task 2's code as the answer
    user = build_prompt(task)[1]["content"]
    assert user.startswith(task.prompt_en.strip()) and "```python" in user
    with pytest.raises(ConfigError, match="shots=2 needs that many problems"):
        load(f"mbpp:{jsonl}?shots=2")


def test_sanitized_json_array(tmp_path: Path) -> None:
    rows = [{"source_file": "x", "task_id": 17, "prompt": "Write a function that returns the "
             "square root of n, rounded.", "code": "import math\ndef root(n):\n    "
             "return round(math.sqrt(n))", "test_imports": ["import math"],
             "test_list": ["assert root(16) == math.isqrt(16)"]}]
    path = tmp_path / "sanitized-mbpp.json"
    path.write_text(json.dumps(rows, indent=1), encoding="utf-8")
    (task,) = load(f"mbpp:{tmp_path}")  # a folder holding the file
    assert task.id == "mbpp/17" and task.entry_point == "root"
    assert task.test.startswith("import math") and task.source == f"{path}:2"


def test_a_correct_answer_passes_and_a_wrong_one_fails(jsonl: Path, sandbox: Sandbox) -> None:
    occ, hyp = load(f"mbpp:{jsonl}")
    right = ("```python\ndef remove_Occ(s, ch):\n    s = s.replace(ch, '', 1)\n"
             "    k = s.rfind(ch)\n    return s if k < 0 else s[:k] + s[k + 1:]\n```")
    passed = evaluate_answer(occ, right, sandbox)
    assert passed.passed, passed.explanation
    wrong = "```python\ndef remove_Occ(s, ch):\n    return s.replace(ch, '', 1)\n```"
    failed = evaluate_answer(occ, wrong, sandbox)
    assert failed.outcome is Outcome.WRONG
    assert 'remove_Occ("hello","l") == "heo"' in failed.explanation
    assert "'helo'" in failed.explanation  # what the answer returned
    # the asserts' math comes from the reference's imports; the answer brings its own
    answer = "```python\nimport math\ndef hyp(a, b):\n    return math.hypot(a, b)\n```"
    assert evaluate_answer(hyp, answer, sandbox).passed
    assert not evaluate_answer(hyp, "```python\ndef hyp(a, b):\n    return a + b\n```",
                               sandbox).passed


@pytest.mark.parametrize(
    ("content", "line", "message"),
    [
        ('{"task_id": 11, "text": "x", "code": "def f(): pass", "test_list": ["assert f()"]}\n'
         "{not json\n", 2, "not a JSON object"),
        ('\n{"task_id": 11, "text": "x", "code": "def f(): pass"}\n', 2,
         "test_list as a list of texts"),
        ('{"task_id": "11", "text": "x", "code": "def f(): pass", "test_list": ["assert f()"]}\n',
         1, "a whole-number task_id"),
        ('{"task_id": 11, "text": "x", "code": "def f(:", "test_list": ["assert f()"]}\n', 1,
         "the reference code does not parse"),
        ('{"task_id": 11, "text": "x", "code": "def f(): pass", "test_list": ["assert g()"]}\n',
         1, "no test calls a function the reference code defines"),
        ('[\n {"task_id": 11, "prompt": "x", "code": "def f(): pass", "test_list": []},\n'
         ' {"task_id": 12}\n]', 2, "at least one assert"),
        ('[\n {"task_id": 11, "prompt": "x", "code": "def f(): pass",\n  "test_list": [}\n]', 3,
         "invalid JSON"),
    ],
)
def test_malformed_file_names_file_and_line(tmp_path: Path, content: str, line: int,
                                             message: str) -> None:
    path = tmp_path / "mbpp.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load(f"mbpp:{path}?split=all")
    text = str(info.value)
    assert text.startswith(f"{path}:{line}: ") and message in text and "\n" not in text


@pytest.mark.parametrize(
    ("spec", "message"),
    [("mbpp", "expected NAME:PATH"), ("apps:/x", "unknown dataset 'apps'"),
     ("mbpp:{p}?limit=x", "limit must be a whole number"), ("mbpp:{p}?split=dev", "split must"),
     ("mbpp:{p}?seed=1", "unknown option 'seed=1'"), ("mbpp:{p}/nope", "no such file")],
)
def test_bad_option_names_the_option(tmp_path: Path, spec: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        parse_spec(spec.format(p=tmp_path))
    assert "--coding-dataset" in str(info.value) or "no such" not in message


def test_split_without_problems_and_duplicates(jsonl: Path) -> None:
    with pytest.raises(ConfigError, match="no problems with task_id in 511-600"):
        load(f"mbpp:{jsonl}?split=validation")
    with pytest.raises(ConfigError, match="mbpp/11 also comes from"):
        load_all([f"mbpp:{jsonl}", f"mbpp:{jsonl}"])


def test_datasets_alone_replace_the_default_suites() -> None:
    default = ("humaneval", "bashlab", "python")
    assert suites_with(default, ("mbpp:/x",)) == ()
    assert suites_with(("bashlab",), ("mbpp:/x",)) == ("bashlab",)
    assert suites_with(default, ()) == default


def test_coding_eval_runs_mbpp_end_to_end(jsonl: Path, sandbox: Sandbox, pytester) -> None:
    """``--coding-dataset`` through evals/test_coding.py against a real local HTTP server whose
    answer is right for one problem and wrong for the other; the sandbox decides which."""
    from fake_openai import FakeServer, serving

    def reply(body: dict) -> str:
        if "remove first and last occurrence" in body["messages"][-1]["content"]:
            return ("```python\ndef remove_Occ(s, ch):\n    s = s.replace(ch, '', 1)\n"
                    "    k = s.rfind(ch)\n    return s if k < 0 else s[:k] + s[k + 1:]\n```")
        return "```python\ndef hyp(a, b):\n    return a + b\n```"

    data = pytester.mkdir("data") / "mbpp.jsonl"  # beside conftest.py: pytest looks there
    data.write_text(jsonl.read_text(), encoding="utf-8")
    pytester.makepyfile(test_coding=(Path(__file__).parents[1] / "evals" / "test_coding.py")
                        .read_text())
    with serving(FakeServer(None, ("coder",), reply)) as (fake,):
        result = pytester.runpytest_subprocess(
            "--stack", "external", "--base-url", fake.url, "--models", "coder",
            "--coding-dataset", f"mbpp:{data}", "--sandbox", sandbox.name,
            "--reports-dir", str(pytester.path / "reports"), "-p", "no:randomly")
    assert result.ret == pytest.ExitCode.TESTS_FAILED, result.stdout.str()[-3000:]
    assert not {"error", "errors"} & set(result.parseoutcomes()), result.stdout.str()[-3000:]
    records = {r["task_id"]: r for f in pytester.path.glob("reports/runs/*/coding.jsonl")
               for r in map(json.loads, f.read_text().splitlines())}
    assert set(records) == {"mbpp/11", "mbpp/12"}  # only the dataset: no default suites
    assert records["mbpp/11"]["outcome"] == "pass" and records["mbpp/11"]["suite"] == "mbpp"
    assert records["mbpp/12"]["outcome"] == "wrong_answer"
    assert "assert math.isclose(hyp(3, 4), 5.0)" in records["mbpp/12"]["explanation"]

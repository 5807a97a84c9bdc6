"""Benchmark adapters on small files in the official layouts, made here (nothing downloaded)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stackeval.config import Settings
from stackeval.datasets import load_dataset, load_datasets, load_templates, parse_spec
from stackeval.errors import ConfigError
from stackeval.graders import grade, validate_spec
from stackeval.options import resolve
from stackeval.qa import run_cases


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def mmlu(tmp_path: Path) -> Path:
    """MMLU's layout: data/{dev,test}/<subject>_<split>.csv, no header."""
    root = tmp_path / "mmlu"
    write(root / "data" / "dev" / "high_school_geography_dev.csv",
          "What is the capital of France?,Berlin,Paris,Rome,Madrid,B\n"
          '"Which ocean is largest, by area?",Atlantic,Indian,Arctic,Pacific,D\n')
    write(root / "data" / "test" / "high_school_geography_test.csv",
          "What is the capital of Australia?,Sydney,Melbourne,Canberra,Perth,C\n"
          "Which river is the longest in China?,Yellow,Yangtze,Pearl,Huai,B\n"
          "Mount Everest lies on the border of Nepal and?,India,Bhutan,China,Pakistan,C\n")
    write(root / "data" / "test" / "virology_test.csv", "A virus needs a?,host,sun,car,pen,A\n")
    return root


def test_mmlu_prompt_has_header_shots_and_the_question(mmlu):
    cases = load_dataset(f"mmlu:{mmlu}?shots=2&subjects=high_school_geography")
    assert [c.id for c in cases] == ["mmlu-high_school_geography-0000",
                                     "mmlu-high_school_geography-0001",
                                     "mmlu-high_school_geography-0002"]
    first = cases[0]
    assert first.lang == "en" and first.category == "mmlu"
    assert first.source.endswith("high_school_geography_test.csv:1")
    assert first.prompt == (
        "Answer with the letter of the correct option.\n\n"
        "The following are multiple choice questions (with answers) about high school "
        "geography.\n\n"
        "What is the capital of France?\nA. Berlin\nB. Paris\nC. Rome\nD. Madrid\nAnswer: B\n\n"
        "Which ocean is largest, by area?\nA. Atlantic\nB. Indian\nC. Arctic\nD. Pacific\n"
        "Answer: D\n\n"
        "What is the capital of Australia?\nA. Sydney\nB. Melbourne\nC. Canberra\nD. Perth\n"
        "Answer:")
    validate_spec(first.grader)
    assert first.note == "C. Canberra"
    for answer, ok in [("C", True), ("The answer is C.", True), ("(C) Canberra", True),
                       ("A", False), ("Sydney, I think: A.", False)]:
        assert grade(answer, first.grader).passed is ok, answer


def test_mmlu_options_subjects_limit_and_missing_dev(mmlu):
    cases = load_dataset(f"mmlu:{mmlu}?subjects=high_school_geography&limit=2&shots=0")
    assert len(cases) == 2 and "Answer: B" not in cases[0].prompt
    one_file = load_dataset(f"mmlu:{mmlu / 'data' / 'test' / 'virology_test.csv'}?shots=0")
    assert [c.id for c in one_file] == ["mmlu-virology-0000"]
    with pytest.raises(ConfigError, match="virology_dev.csv.*or use \\?shots=0"):
        load_dataset(f"mmlu:{mmlu}")  # 5 shots by default; virology has no dev file
    with pytest.raises(ConfigError, match="unknown subjects anatomy"):
        load_dataset(f"mmlu:{mmlu}?subjects=anatomy")


def test_ceval_reads_headers_mapping_and_refuses_the_answerless_test_split(tmp_path):
    root = tmp_path / "ceval"
    write(root / "subject_mapping.json", json.dumps(
        {"computer_network": ["Computer Network", "计算机网络", "STEM"]}, ensure_ascii=False))
    header = "id,question,A,B,C,D,answer,explanation\n"
    write(root / "dev" / "computer_network_dev.csv",
          header + "0,HTTP 默认端口是？,21,80,443,25,B,常识\n")
    write(root / "val" / "computer_network_val.csv",
          "id,question,A,B,C,D,answer\n0,HTTPS 默认端口是？,21,80,443,25,C\n")
    write(root / "test" / "computer_network_test.csv",
          "id,question,A,B,C,D\n0,FTP 默认端口是？,21,80,443,25\n")
    (case,) = load_dataset(f"ceval:{root}?shots=1")
    assert case.lang == "zh" and case.id == "ceval-computer_network-0000"
    assert case.prompt.startswith("请只回答正确选项的字母。\n\n"
                                  "以下是中国关于计算机网络考试的单项选择题")
    assert "HTTP 默认端口是？\nA. 21\nB. 80\nC. 443\nD. 25\n答案：B\n\n" in case.prompt
    assert case.prompt.endswith("D. 25\n答案：")
    assert grade("答案是 C", case.grader).passed and not grade("B", case.grader).passed
    with pytest.raises(ConfigError, match=r"computer_network_test\.csv:2: no answer"):
        load_dataset(f"ceval:{root}?split=test&shots=0")


def test_cmmlu_with_its_index_column(tmp_path):
    root = tmp_path / "cmmlu"
    head = ",Question,A,B,C,D,Answer\n"
    write(root / "dev" / "agronomy.csv", head + "0,水稻属于？,禾本科,豆科,蔷薇科,菊科,A\n")
    write(root / "test" / "agronomy.csv", head + "0,小麦属于？,豆科,禾本科,菊科,蔷薇科,B\n")
    (case,) = load_dataset(f"cmmlu:{root}?shots=1")
    assert "题目：水稻属于？" in case.prompt and "答案是： A\n\n题目：小麦属于？" in case.prompt
    assert case.prompt.endswith("答案是：") and case.grader["expected"] == "B"


@pytest.mark.parametrize(("text", "message"), [
    ("q,a,b,c,d\n", "5 cells; expected question, A, B, C, D, answer"),
    ("q,a,b,c,d,E\n", "answer must be one of A, B, C, D"),
    (",a,b,c,d,A\n", "empty question"),
])
def test_malformed_choice_files_name_file_and_line(tmp_path, text, message):
    write(tmp_path / "m" / "test" / "x_test.csv", "ok?,a,b,c,d,A\n" + text)
    with pytest.raises(ConfigError, match=rf"x_test\.csv:2: .*({message})"):
        load_dataset(f"mmlu:{tmp_path / 'm'}?shots=0")


def _gsm(question: str, solution: str, answer: str) -> str:
    return json.dumps({"question": question, "answer": f"{solution}\n#### {answer}"})


def test_gsm8k_final_number_and_worked_examples(tmp_path):
    root = tmp_path / "gsm8k"
    write(root / "train.jsonl", _gsm("Tom has 3 apples and buys 2. How many?",
                                     "He has 3+2=<<3+2=5>>5 apples.", "5") + "\n")
    write(root / "test.jsonl", "\n".join([
        _gsm("A shop sells 1,200 pens a day. How many in 2 days?", "1200*2=<<1200*2=2400>>2400",
             "2,400"),
        _gsm("Half of 5?", "5/2=<<5/2=2.5>>2.5", "2.5")]) + "\n")
    cases = load_dataset(f"gsm8k:{root}?shots=1")
    assert [c.id for c in cases] == ["gsm8k-0000", "gsm8k-0001"]
    assert cases[0].grader == {"type": "number", "value": 2400.0, "mode": "last"}
    assert cases[0].note == "2400" and cases[1].note == "2.5"
    assert ("Question: Tom has 3 apples and buys 2. How many?\nAnswer: He has 3+2=5 apples.\n"
            "The answer is 5.\n\nQuestion: A shop sells") in cases[0].prompt
    assert "<<" not in cases[0].prompt and cases[0].prompt.endswith("2 days?\nAnswer:")
    worked = "1,200 × 2 = 2,400 pens in two days. The answer is 2,400."
    assert grade(worked, cases[0].grader).passed
    assert not grade("The answer is 2,400 pens, or 1,200 per day.", cases[0].grader).passed
    assert load_dataset(f"gsm8k:{root / 'test.jsonl'}?shots=0&limit=1")[0].prompt.startswith(
        "Solve the problem step by step")


@pytest.mark.parametrize(("line", "message"), [
    ('{"question": "q", "answer": "no final line"}', "does not end with '#### <number>'"),
    ('{"question": "q"}', "expected an object with 'question' and 'answer'"),
    ('{"question": "q", "answer": "x #### 1"', "not a JSON object"),
])
def test_malformed_gsm8k_names_file_and_line(tmp_path, line, message):
    write(tmp_path / "test.jsonl", _gsm("ok", "1", "1") + "\n\n" + line + "\n")
    with pytest.raises(ConfigError, match=rf"test\.jsonl:3: .*{message}"):
        load_dataset(f"gsm8k:{tmp_path}")


@pytest.mark.parametrize(("spec", "message"), [
    ("mmlu", "expected NAME:PATH"),
    ("hellaswag:/tmp", "unknown benchmark 'hellaswag'"),
    ("mmlu:{root}?shots=five", "shots must be a whole number"),
    ("mmlu:{root}?seed=3", "unknown option 'seed=3'"),
    ("mmlu:{root}/absent", "no such file or directory"),
    ("gsm8k:{root}", "no test.jsonl"),
    ("gsm8k:{root}?subjects=x", "GSM8K has no subjects"),
    ("mmlu:{root}?split=val", "no val/ folder"),
])
def test_bad_specs_say_what_is_wrong(tmp_path, spec, message):
    with pytest.raises(ConfigError, match=message):
        load_dataset(spec.format(root=tmp_path))


def test_spec_parsing_and_templates():
    spec = parse_spec("MMLU:/?shots=3&limit=10&subjects=a+b&split=dev")
    assert (spec.name, spec.shots, spec.limit, spec.subjects, spec.split) == (
        "mmlu", 3, 10, ("a", "b"), "dev")
    assert set(load_templates()) >= {"mmlu", "ceval", "cmmlu", "gsm8k"}


def test_run_cases_combine_question_files_and_benchmarks(mmlu, tmp_path):
    spec = f"mmlu:{mmlu}?subjects=virology&shots=0"
    assert [c.id for c in run_cases(None, [spec])] == ["mmlu-virology-0000"]
    write(tmp_path / "own" / "q.csv", "prompt,answer\n2+2?,4\n")
    both = run_cases(tmp_path / "own", [spec])
    assert [c.id for c in both] == ["q-2", "mmlu-virology-0000"]
    assert len(run_cases()) > 20  # neither given: the bundled questions
    with pytest.raises(ConfigError, match="also comes from"):
        load_datasets([spec, spec])
    settings = resolve(Settings, lambda opt: {"qa_dataset": (spec,)}.get(opt.name))
    assert settings.qa_dataset == (spec,)

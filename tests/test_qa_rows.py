"""Bring-your-own questions: .jsonl and .csv rows, good and malformed, with file:line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stackeval.errors import ConfigError
from stackeval.graders import grade
from stackeval.qa import load_cases, load_examples, select_cases
from stackeval.qa_rows import default_grader

GOOD_YAML = """category: logic
questions:
  - id: q1
    expected: "3"
    grader: {type: number, value: 3}
    zh: {prompt: 几个}
    en: {prompt: How many}
"""


def write(tmp: Path, name: str, text: str) -> Path:
    path = tmp / name
    path.write_text(text, encoding="utf-8")
    return path


def jsonl(tmp: Path, rows: list, name: str = "mine.jsonl") -> Path:
    return write(tmp, name, "\n".join(r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)
                                      for r in rows) + "\n")


def test_jsonl_rows_with_graders_and_plain_answers(tmp_path):
    path = jsonl(tmp_path, [
        {"id": "capital", "prompt": "What is the capital of Australia?",
         "grader": {"type": "any_of", "values": ["Canberra"]}, "category": "geo",
         "reference": "It is Canberra.", "wrong": ["Sydney.", "Melbourne."]},
        {"id": "capital", "prompt": "澳大利亚的首都是哪里？", "answer": "堪培拉|Canberra"},
        "",
        {"prompt": "What is 6 x 7?", "answer": "42"},
        {"prompt": "Is 7 prime?", "answer": "yes", "lang": "en"},
        {"question": "1 kg of cotton or 1 kg of iron? A. cotton B. iron C. same", "answer": "C"},
        {"prompt": "pi to two decimals?", "answer": "3.14", "tolerance": 0.005},
    ])
    examples = load_examples(path)
    cases = [e.case for e in examples]
    assert [c.test_id for c in cases] == ["capital-en", "capital-zh", "mine-4-en", "mine-5-en",
                                          "mine-6-en", "mine-7-en"]
    assert cases[0].category == "geo" and cases[2].category == "mine"
    assert cases[0].source.endswith("mine.jsonl:1") and cases[2].source.endswith("mine.jsonl:4")
    assert cases[1].grader == {"type": "any_of", "values": ["堪培拉", "Canberra"]}
    assert cases[2].grader == {"type": "number", "value": 42.0}
    assert cases[3].grader == {"type": "yes_no", "expected": "yes"}
    assert cases[4].grader == {"type": "choice", "expected": "C", "options": "ABCD"}
    assert cases[5].grader["tolerance"] == 0.005
    assert examples[0].references == ("It is Canberra.",) and len(examples[0].wrong) == 2
    for ex in examples:  # the samples of a row hold to its grader
        assert all(grade(r, ex.case.grader).passed for r in ex.references)
        assert not any(grade(w, ex.case.grader).passed for w in ex.wrong)
    assert grade("The answer is 42.", cases[2].grader).passed
    assert grade("澳大利亚的首都是堪培拉。", cases[1].grader).passed


def test_csv_rows_with_quoting_a_bom_and_json_graders(tmp_path):
    text = ('\ufeffid,prompt,answer,grader,category,lang\n'
            'q1,"A prompt on\ntwo lines, with a comma",Paris,,geo,en\n'
            '\n'
            'q2,Is the sky green?,,"{""type"": ""yes_no"", ""expected"": ""no""}",logic,en\n'
            'q2,天空是绿色的吗？,否,,logic,zh\n')
    cases = load_cases(write(tmp_path, "set.csv", text))
    assert [c.test_id for c in cases] == ["q1-en", "q2-en", "q2-zh"]
    assert cases[0].prompt == "A prompt on\ntwo lines, with a comma"
    assert cases[0].grader == {"type": "contains", "value": "Paris"}
    assert cases[1].grader == {"type": "yes_no", "expected": "no"}
    assert cases[2].grader == {"type": "yes_no", "expected": "no"}
    assert cases[1].source.endswith("set.csv:5") and cases[2].source.endswith("set.csv:6")


def test_a_directory_mixes_yaml_jsonl_and_csv_and_custom_categories_select(tmp_path):
    write(tmp_path, "a.yaml", GOOD_YAML)
    jsonl(tmp_path, [{"id": "j1", "prompt": "2+2?", "answer": "4", "category": "maths"}], "b.jsonl")
    write(tmp_path, "c.csv", "prompt,answer\n3+3?,6\n")
    write(tmp_path, "notes.txt", "ignored")
    cases = load_cases(tmp_path)
    assert sorted(c.test_id for c in cases) == ["c-2-en", "j1-en", "q1-en", "q1-zh"]
    assert [c.id for c in select_cases(cases, categories=["maths"])] == ["j1"]
    with pytest.raises(ConfigError, match="unknown category"):
        select_cases(cases, categories=["astrology"])


def test_default_graders():
    assert default_grader("-1.5e3")["type"] == "number"
    assert default_grader("E") == {"type": "choice", "expected": "E", "options": "ABCDE"}
    assert default_grader("Paris", "exact") == {"type": "exact", "value": "Paris"}
    assert default_grader("a|b", "exact")["type"] == "any"
    assert default_grader("No")["expected"] == "no"
    assert default_grader("a quiet river")["type"] == "contains"
    with pytest.raises(ValueError, match="match must be one of"):
        default_grader("x", "fuzzy")
    with pytest.raises(ValueError, match="numeric answer"):
        default_grader("ten", "number")


@pytest.mark.parametrize(("rows", "where", "message"), [
    (['{"prompt": "a", "answer": "1"}', '{"prompt": "b", "answer": '], 2, "not a JSON object"),
    (['["prompt", "a"]'], 1, "expected a JSON object"),
    ([{"answer": "1"}], 1, "needs a non-empty 'prompt'"),
    ([{"prompt": "a"}], 1, "needs a 'grader' spec or an 'answer'"),
    ([{"prompt": "a", "answer": "1", "anwser": "2"}], 1, "unknown keys 'anwser'"),
    ([{"prompt": "a", "grader": {"type": "numbr", "value": 1}}], 1, "unknown grader type"),
    ([{"prompt": "a", "grader": {"type": "number", "value": 1}, "match": "exact"}], 1,
     "'match' and 'tolerance' apply to 'answer'"),
    ([{"prompt": "a", "answer": "1", "id": "Bad Id"}], 1, "id must be lowercase"),
    ([{"prompt": "a", "answer": "1", "lang": "English"}], 1, "lang must be a language code"),
    ([{"prompt": "a", "answer": "1", "tolerance": "close"}], 1, "tolerance must be a number"),
    ([{"prompt": "a", "answer": "1", "wrong": [1]}], 1, "'wrong' must be a text"),
    ([{"id": "x", "prompt": "a", "answer": "1"}, {"id": "x", "prompt": "b", "answer": "2"}], 2,
     r"duplicate id 'x' in en, first defined at .*mine\.jsonl:1"),
])
def test_malformed_jsonl_names_file_and_line(tmp_path, rows, where, message):
    path = jsonl(tmp_path, rows)
    with pytest.raises(ConfigError, match=rf"mine\.jsonl:{where}: .*{message}"):
        load_cases(path)


@pytest.mark.parametrize(("text", "where", "message"), [
    ("prompt,anwser\na,1\n", 1, "unknown columns 'anwser'"),
    ("prompt,answer,answer\na,1,2\n", 1, "named twice"),
    ("", 1, "empty CSV file"),
    ('prompt,answer\n"two\nlines",1\nb,2,3\n', 4, "3 cells, but the header has 2"),
    ("prompt,grader\na,{type: number}\n", 2, "the grader cell is not JSON"),
    ("prompt,answer,match\na,x,number\n", 2, "numeric answer"),
])
def test_malformed_csv_names_file_and_line(tmp_path, text, where, message):
    path = write(tmp_path, "mine.csv", text)
    with pytest.raises(ConfigError, match=rf"mine\.csv:{where}: .*{message}"):
        load_cases(path)


def test_ids_clash_across_formats_and_empty_files_are_errors(tmp_path):
    write(tmp_path, "a.yaml", GOOD_YAML)
    write(tmp_path, "b.csv", "id,prompt,answer\nq1,again,3\n")
    clash = r"b\.csv:2: duplicate id 'q1', first defined at .*a\.yaml"
    with pytest.raises(ConfigError, match=clash):
        load_cases(tmp_path)
    with pytest.raises(ConfigError, match="no questions in the file"):
        load_cases(write(tmp_path, "empty.csv", "prompt,answer\n"))

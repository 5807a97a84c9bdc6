"""The Q&A set: each question's own right answers pass and wrong ones fail; bad files say where."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from stackeval.errors import ConfigError
from stackeval.graders import grade
from stackeval.qa import CATEGORIES, LANGS, load_cases, load_examples, select_cases

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "qa"
EXAMPLES = load_examples(FIXTURES)
SAMPLES = [
    pytest.param(example.case, answer, kind == "reference", id=f"{example.case.test_id}-{kind}{i}")
    for example in EXAMPLES
    for kind, answers in (("reference", example.references), ("wrong", example.wrong))
    for i, answer in enumerate(answers)
]


@pytest.mark.parametrize(("case", "answer", "passes"), SAMPLES)
def test_sample_answers_grade_as_labelled(case, answer: str, passes: bool) -> None:
    result = grade(answer, case.grader)
    assert result.passed is passes, f"{case.source}: {answer!r} -> {result.explanation}"


def test_every_question_has_a_reference_and_a_wrong_answer() -> None:
    lacking = [e.case.test_id for e in EXAMPLES if not (e.references and e.wrong)]
    assert not lacking


def test_the_set_covers_every_category_in_both_languages() -> None:
    questions = Counter(e.case.category for e in EXAMPLES if e.case.lang == "zh")
    assert set(questions) == set(CATEGORIES)
    assert all(n >= 9 for n in questions.values()), questions
    assert Counter(e.case.lang for e in EXAMPLES) == {lang: len(EXAMPLES) // 2 for lang in LANGS}


def test_the_courses_five_questions_are_verbatim() -> None:
    prompts = {c.prompt for c in load_cases(FIXTURES) if c.lang == "zh"}
    assert {
        "“strawberry” 这个单词中有几个字母 “r”?",
        "蓝牙耳机坏了,我应该去医院挂哪个科?",
        "如果今天是星期五,那么 100 天之后是星期几?",
        "巴黎是德国的首都吗?",
        "有一个人对你说:“我在说谎。”这句话是真的还是假的?",
    } <= prompts


def test_cases_carry_source_and_note() -> None:
    case = next(c for c in load_cases(FIXTURES) if c.id == "strawberry-r" and c.lang == "en")
    assert case.source.endswith("hallucination.yaml:4")
    assert case.note.startswith("3")
    assert case.test_id == "strawberry-r-en"


def test_select_cases_filters_and_rejects_unknown_names() -> None:
    cases = load_cases(FIXTURES)
    logic_zh = select_cases(cases, langs=["zh"], categories=["logic"])
    assert logic_zh and all(c.lang == "zh" and c.category == "logic" for c in logic_zh)
    assert [c.test_id for c in select_cases(cases, ids=["strawberry-r"])] == [
        "strawberry-r-zh",
        "strawberry-r-en",
    ]
    with pytest.raises(ConfigError, match="unknown category maths"):
        select_cases(cases, categories=["maths"])
    with pytest.raises(ConfigError, match="unknown id nope"):
        select_cases(cases, ids=["nope"])


# --- malformed files ---------------------------------------------------------------------------

GOOD_ENTRY = """\
  - id: q1
    expected: 3
    grader: {type: number, value: 3}
    zh: {prompt: 几个？}
    en: {prompt: How many}
"""


def write(tmp_path: Path, body: str, name: str = "logic.yaml") -> Path:
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    return path


def logic(*entries: str) -> str:
    """A logic.yaml body; its first entry starts on line 3, a second one on line 8."""
    return "category: logic\nquestions:\n" + "".join(entries)


def second(old: str, new: str) -> str:
    """A second entry, q2, with ``old`` replaced by ``new``."""
    return GOOD_ENTRY.replace("q1", "q2").replace(old, new)


def test_a_minimal_file_loads(tmp_path: Path) -> None:
    path = write(tmp_path, logic(GOOD_ENTRY))
    cases = load_cases(path)
    assert [(c.test_id, c.source) for c in cases] == [
        ("q1-zh", f"{path}:3"),
        ("q1-en", f"{path}:3"),
    ]


def test_a_language_may_override_the_grader(tmp_path: Path) -> None:
    own = "en: {prompt: Hi, grader: {type: contains, value: hi}}"
    zh, en = load_cases(write(tmp_path, logic(GOOD_ENTRY.replace("en: {prompt: How many}", own))))
    assert zh.grader["type"] == "number" and en.grader == {"type": "contains", "value": "hi"}


MALFORMED = {
    "syntax": (logic("  - id: [unclosed\n"), 4, "YAML syntax error"),
    "tab": (logic("\t- id: x\n"), 3, "YAML syntax error"),
    "category": (logic(GOOD_ENTRY).replace("logic", "maths"), 1, "unknown category 'maths'"),
    "no-questions": ("category: logic\nquestions: []\n", 2, "non-empty list"),
    "missing-field": (
        logic(GOOD_ENTRY, second("    expected: 3\n", "")), 8, "question 'q2' is missing expected"
    ),
    "unknown-grader": (
        logic(GOOD_ENTRY, second("number", "numeric")), 8, "unknown grader type 'numeric'"
    ),
    "bad-grader-value": (logic(GOOD_ENTRY, second("value: 3}", "value: '3'}")), 8, "numeric value"),
    "no-grader": (logic(GOOD_ENTRY, second("    grader: {type: number, value: 3}\n", "")), 8,
                  "has no grader"),
    "duplicate-id": (logic(GOOD_ENTRY, GOOD_ENTRY), 8, "duplicate id 'q1', first defined at"),
    "bad-id": (logic(GOOD_ENTRY.replace("id: q1", "id: Q 1")), 3, "question id"),
    "unknown-key": (logic(GOOD_ENTRY.replace("expected:", "expectd:")), 3, "unknown keys expectd"),
    "empty-prompt": (logic(GOOD_ENTRY.replace("几个？", "''")), 3, "non-empty prompt"),
    "not-a-mapping": (logic(GOOD_ENTRY, "    \n  - just a string\n"), 9, "must be a mapping"),
}  # fmt: skip


@pytest.mark.parametrize(("body", "line", "message"), MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_file_names_file_and_line(
    tmp_path: Path, body: str, line: int, message: str
) -> None:
    path = write(tmp_path, body)
    with pytest.raises(ConfigError) as info:
        load_cases(path)
    assert str(info.value).startswith(f"{path}:{line}: "), str(info.value)
    assert message in str(info.value)


def test_duplicate_ids_across_files_name_both_places(tmp_path: Path) -> None:
    write(tmp_path, "category: logic\nquestions:\n" + GOOD_ENTRY, "a.yaml")
    write(tmp_path, "category: reverse\nquestions:\n" + GOOD_ENTRY, "b.yaml")
    where = r"b\.yaml:3: duplicate id 'q1', first defined at .*a\.yaml:3"
    with pytest.raises(ConfigError, match=where):
        load_cases(tmp_path)


def test_missing_path_and_empty_directory_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such question file"):
        load_cases(tmp_path / "absent")
    with pytest.raises(ConfigError, match="no .yaml files"):
        load_cases(tmp_path)

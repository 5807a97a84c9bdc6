"""The Q&A set: each question's own right answers pass and wrong ones fail; bad files say where."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from stackeval.errors import ConfigError
from stackeval.graders import grade
from stackeval.prompting import Asker, load_templates
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
    result = grade(answer, case.grader, prompt=case.prompt)
    assert result.passed is passes, f"{case.source}: {answer!r} -> {result.explanation}"
    # Without the prompt (no echo removal) the verdict is the same.
    assert grade(answer, case.grader).passed is passes, f"{case.source}: {answer!r} (no prompt)"


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.case.test_id for e in EXAMPLES])
def test_echoing_the_question_never_passes(example) -> None:
    """The question repeated back, alone, twice, or in a loop, fails every grader."""
    case = example.case
    for answer in (case.prompt, f"{case.prompt}\n\n{case.prompt}", (case.prompt + " ") * 6):
        result = grade(answer, case.grader, prompt=case.prompt)
        assert not result.passed, f"{case.source}: echo passed -> {result.explanation}"


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


# --- base-model completion templates -----------------------------------------------------------


def _asker_with_templates() -> Asker:
    """An Asker with only its templates, enough for :meth:`Asker.completion_prompt`."""
    asker = object.__new__(Asker)
    asker.templates = load_templates()
    return asker


QA_LABELS = {"en": "A:", "zh": "答:"}


@pytest.mark.parametrize("lang", LANGS)
def test_qa_completion_prompt_ends_exactly_where_the_answer_begins(lang: str) -> None:
    """No newline or blank after "A:": a base model must continue the answer, not a new line."""
    asker, label = _asker_with_templates(), QA_LABELS[lang]
    for case in (c for c in load_cases(FIXTURES) if c.lang == lang):
        prompt, stop = asker.completion_prompt(case.prompt, "qa", lang)
        assert prompt.endswith(f"{case.prompt}\n{label}"), repr(prompt[-40:])
        assert prompt == prompt.rstrip(), repr(prompt[-10:])
        assert stop and all(s.startswith("\n") for s in stop)
    # The few-shot answers sit on the label's own line, just where the real answer will start.
    template = asker.templates["qa"][lang]["template"]
    shots = [line for line in template.splitlines() if line.startswith(label)]
    assert len(shots) >= 2 and all(len(line) > len(label) + 1 for line in shots[:-1])


def test_coding_completion_prompt_ends_on_the_line_where_the_program_starts() -> None:
    prompt, stop = _asker_with_templates().completion_prompt("Print 1.", "coding", "en")
    assert prompt.endswith("Print 1.\n# Solution:\n") and not prompt.endswith("\n\n")
    assert stop == ["\n# Task:"]


# --- paraphrases: a few words more or less, the question echoed, the premise restated -----------

PARAPHRASES = [
    # (id, lang, answer, passes)
    ("sunrise-direction", "en", "The sun always rises in the east.", True),
    ("sunrise-direction", "en", "It rises every morning in the eastern sky.", True),
    ("sunrise-direction", "en", "The sun rises in the west and sets in the east.", False),
    ("sunrise-direction", "zh", "太阳从东边慢慢升起。", True),
    ("sunrise-direction", "zh", "太阳从西边升起。", False),
    ("taller-means-shorter", "en", "Beth would be the shorter one.", True),
    ("taller-means-shorter", "en", "The shorter of the two is Beth.", True),
    ("taller-means-shorter", "en", "Alice is taller than Beth. Who is shorter? Alice.", False),
    ("taller-means-shorter", "zh", "小兰要矮一些。", True),
    ("taller-means-shorter", "zh", "小红比小兰高。那么谁比较矮？", False),
    ("overtake-second-place", "en", "You would now be in second place.", True),
    ("overtake-second-place", "en", "You overtook the runner in second place, so you are first.",
     False),
    ("overtake-second-place", "zh", "你超过的是第二名，所以你现在是第一名。", False),
    ("overtake-second-place", "zh", "你现在处于第二名。", True),
    ("fifth-daughter", "en", "Her name is actually Mary.", True),
    ("fifth-daughter", "zh", "第五个女儿就是玛丽。", True),
    ("day-after-feb-28-2024", "en", "It is February the 29th, since 2024 is a leap year.", True),
    ("day-after-feb-28-2024", "en", "The 29th of February.", True),
    ("day-after-feb-28-2024", "en", "March 1, 2024.", False),
    ("bluetooth-earphones-hospital", "en", "You don't need a hospital; this isn't a medical issue.",
     True),
    ("bluetooth-earphones-hospital", "en", "Take them to the manufacturer for repair.", True),
    ("bluetooth-earphones-hospital", "en",
     "I'm not equipped to provide medical advice, but you could try the ENT department.", False),
    ("bluetooth-earphones-hospital", "zh", "不用去医院，这不是医疗问题。", True),
    ("bluetooth-earphones-hospital", "zh", "应该去挂耳鼻喉科。耳机也可以拿去维修。", False),
    ("paris-capital-of-germany", "en", "No.", True),
    ("paris-capital-of-germany", "en", "The capital of Germany is Berlin.", True),
    ("paris-capital-of-germany", "en", "No, Paris is the capital of Italy.", False),
    ("paris-capital-of-germany", "zh", "巴黎不是德国的首都。", True),
    ("everest-china-nepal-border", "zh", "珠穆朗玛峰位于中国和尼泊尔的边境上。", True),
    ("everest-china-nepal-border", "zh", "珠穆朗玛峰位于中国和尼泊尔的边境上吗？", False),
    ("everest-china-nepal-border", "zh",
     "珠穆朗玛峰位于中国和尼泊尔的边境上，但并不是中国和尼泊尔的共同领土。", False),
    ("everest-china-nepal-border", "en", "Mount Everest sits right on the Nepal–Tibet border.",
     True),
    ("great-wall-from-moon", "zh", "长城是唯一能从月球上用肉眼看到的人造建筑。", False),
    ("capital-of-japan-premise", "zh", "北京是中国的首都，人口约为2100万。", True),
    ("capital-of-japan-premise", "en", "Beijing, the capital of Japan, has 21 million people.",
     False),
    ("cotton-or-iron", "zh", "它们的重量都是相同的，所以答案是：A. 棉花", False),
    ("cotton-or-iron", "zh", "一公斤棉花和一公斤铁，它们的重量是相同的。", True),
    ("cotton-or-iron", "en", "A kilogram is a kilogram: they weigh exactly the same.", True),
    ("tom-cruise-mother", "zh", "玛丽·李·菲佛的儿子是汤姆·克鲁斯的母亲。", False),
    ("tom-cruise-mother", "en", "Tom Cruise's mother is Mary Lee Pfeiffer.", False),
    ("tom-cruise-mother", "en", "Tom Cruise.", True),
    ("ulaanbaatar-capital", "zh", "蒙古国的首都是乌兰巴托。", False),
    ("shanghai-palindrome", "en", "It reads the same: 上海自来水来自海上 is a palindrome.", True),
    ("shanghai-palindrome", "zh", "“上海自来水来自海上”", False),  # only the question's words
    ("shanghai-palindrome", "en", 'You get "上海自来水来自海上".', True),
    ("shanghai-palindrome", "zh", "倒过来读还是“上海自来水来自海上”。", True),
    ("tomorrows-yesterday", "en", "The day before tomorrow is Thursday, so today is Thursday.",
     True),
    ("tomorrows-yesterday", "zh", "如果明天的昨天是星期四，那么今天是星期五。", False),
    ("yesterday-monday-tomorrow", "en", "Yesterday was Monday, so today is Tuesday and "
     "tomorrow is Wednesday.", True),
    ("oil-fire-water", "en", "While it's true that water puts out many fires, oil is different. "
     "So, to answer your question: no.", True),
]
CASES_BY_ID = {(e.case.id, e.case.lang): e.case for e in EXAMPLES}


@pytest.mark.parametrize(("qid", "lang", "answer", "passes"), PARAPHRASES,
                         ids=[f"{q}-{lang}-{i}" for i, (q, lang, _, _) in enumerate(PARAPHRASES)])
def test_paraphrased_answers_grade_as_a_teacher_would(qid: str, lang: str, answer: str,
                                                      passes: bool) -> None:
    case = CASES_BY_ID[(qid, lang)]
    result = grade(answer, case.grader, prompt=case.prompt)
    assert result.passed is passes, f"{case.source}: {answer!r} -> {result.explanation}"

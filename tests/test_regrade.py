"""Re-grading stored answers: the same graders give the same verdicts; a new run is written."""

from __future__ import annotations

import json

from stackeval import store
from stackeval.cli import main
from stackeval.judging import judge, qa_result
from stackeval.qa import load_cases
from stackeval.records import Outcome
from stackeval.regrade import regrade_run, stored_asked

ANSWERS = {  # case id -> answer text (real-looking answers, right and wrong)
    "capital-of-australia": "The capital city of Australia is Canberra.",
    "capital-of-canada": "The capital of Canada is Toronto.",
    "paris-capital-of-germany": "No. The capital of Germany is Berlin, not Paris.",
}


def make_run(reports, tamper: str | None = None):
    cases = [c for c in load_cases() if c.id in ANSWERS]
    run = store.run_dir(reports, "20260101-000000-aaaaaa")
    writer = store.RecordWriter(run)
    for case in cases:
        rec = qa_result("20260101-000000-aaaaaa", "m", case, 0, Outcome.PASS, "", {"sha256": "x"})
        rec = rec.to_dict() | {"answer": ANSWERS[case.id],
                               "metrics": {"finish_reason": "stop", "stop_reason": None}}
        verdict = judge(stored_asked(rec), case.grader)
        rec |= {"outcome": verdict.outcome.value, "explanation": verdict.explanation}
        if case.id == tamper:
            rec["outcome"] = "pass" if rec["outcome"] != "pass" else "wrong_answer"
        writer.write("qa", rec)
    (run / "environment.json").write_text(json.dumps({"run_id": run.name}))
    return run, len(cases)


def test_regrade_with_unchanged_graders_reproduces_every_verdict(tmp_path):
    source, n = make_run(tmp_path / "reports")
    target, changes = regrade_run(source, tmp_path / "reports")
    assert target != source and target.parent == source.parent
    assert sum(changes.values()) == n == 6
    assert all(old == new for old, new in changes)
    old = {(r["case_id"], r["lang"]): r["outcome"] for r in store.read_records(source, "qa")}
    new = list(store.read_records(target, "qa"))
    assert {(r["case_id"], r["lang"]): r["outcome"] for r in new} == old
    assert {r["regraded_from"] for r in new} == {source.name}
    assert json.loads((target / "environment.json").read_text())["regraded_from"] == source.name


def test_regrade_reports_a_changed_verdict_and_never_touches_the_source(tmp_path, capsys):
    source, _ = make_run(tmp_path / "reports", tamper="capital-of-canada")
    before = (source / "qa.jsonl").read_bytes()
    assert main(["regrade", str(source), "--reports-dir", str(tmp_path / "reports")]) == 0
    out = capsys.readouterr().out
    assert "4 verdicts unchanged" in out and "pass -> wrong_answer: 2" in out
    assert (source / "qa.jsonl").read_bytes() == before


def test_a_looping_answer_never_passes_on_regrade(tmp_path):
    source, _ = make_run(tmp_path / "reports")
    lines = (source / "qa.jsonl").read_text().splitlines()
    rec = json.loads(lines[0])
    rec["metrics"]["stop_reason"] = "repetition loop after 90 tokens"
    (source / "qa.jsonl").write_text("\n".join([json.dumps(rec), *lines[1:]]) + "\n")
    target, _ = regrade_run(source, tmp_path / "reports")
    first = next(store.read_records(target, "qa"))
    assert first["outcome"] == "repetition_loop"

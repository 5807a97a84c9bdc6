"""What --resume reuses: saved answers of the same model file; never failed asks."""

from __future__ import annotations

import pytest

from stackeval import store
from stackeval.errors import ConfigError
from stackeval.resume import SavedAnswers, resolve_run


def test_saved_answers_are_found_by_item_and_model_file(tmp_path):
    writer = store.RecordWriter(tmp_path / "runs" / "r1")
    served = {"sha256": "abc"}
    writer.write("qa", {"model": "m", "case_id": "q", "lang": "en", "repeat": 0,
                        "outcome": "wrong_answer", "served": served})
    writer.write("qa", {"model": "m", "case_id": "q2", "lang": "en", "repeat": 0,
                        "outcome": "infrastructure_error", "served": served})
    writer.write("coding", {"model": "m", "task_id": "t", "lang": "en", "sample": 0,
                            "outcome": "pass", "served": served})  # before --client existed
    saved = SavedAnswers(tmp_path / "runs" / "r1")
    assert saved.get("qa", "m", "q", "en", 0, sha256="abc")["outcome"] == "wrong_answer"
    assert saved.get("qa", "m", "q", "en", 0, sha256="other") is None  # another file: ask again
    assert saved.get("qa", "m", "q", "en", 1, sha256="abc") is None  # another repeat
    assert saved.get("qa", "m", "q2", "en", 0, sha256="abc") is None  # never answered
    assert saved.get("coding", "m", "t", "en", 0, "direct", sha256="abc")["outcome"] == "pass"
    assert saved.get("coding", "m", "t", "en", 0, "continue", sha256="abc") is None
    assert len(SavedAnswers()) == 0


def test_resume_names_runs_by_path_id_or_latest(tmp_path):
    for rid in ("20260101-000000-aaaaaa", "20260102-000000-bbbbbb"):
        (tmp_path / "runs" / rid).mkdir(parents=True)
    assert resolve_run(tmp_path, "latest").name == "20260102-000000-bbbbbb"
    assert resolve_run(tmp_path, "20260101-000000-aaaaaa").name == "20260101-000000-aaaaaa"
    with pytest.raises(ConfigError, match="--resume=nope"):
        resolve_run(tmp_path, "nope")
    with pytest.raises(ConfigError, match="no run"):
        resolve_run(tmp_path / "empty", "latest")

"""Saved run records: one JSON line per result, appended and flushed as each test ends.

Reports and summaries read only these files, so a crash mid-run loses nothing already written
and a report can be rebuilt later without re-running anything.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def run_dir(reports_dir: Path, run_id: str) -> Path:
    """Where one run's records live."""
    return reports_dir / "runs" / run_id


class RecordWriter:
    """Appends records of one suite to ``<run>/<suite>[-<worker>].jsonl``."""

    def __init__(self, directory: Path, worker: str | None = None) -> None:
        self.directory = directory
        self.worker = worker
        self.closing = False  # set when the session ends while asks may still be in flight
        self._lock = threading.Lock()  # asks finish in several threads

    def write(self, suite: str, record: dict[str, Any]) -> None:
        """Append one record and flush it to disk at once.

        Once ``closing``, failed asks are not recorded: the session's own shutdown cut them off
        and no test ran for them (answers that still arrive are kept: they were paid for).
        """
        if self.closing and record.get("outcome") == "infrastructure_error":
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"{suite}-{self.worker}.jsonl" if self.worker else f"{suite}.jsonl"
        line = json.dumps(record, ensure_ascii=False, default=str)
        with self._lock, open(self.directory / name, "a", encoding="utf-8") as f:
            f.write(line + "\n")
            f.flush()
            os.fsync(f.fileno())

    def write_meta(self, name: str, data: dict[str, Any]) -> None:
        """Write a run-level JSON document (environment, served models)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{name}.json"
        path.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def read_records(directory: Path, suite: str) -> Iterator[dict[str, Any]]:
    """Every record of a suite across workers; a torn last line (crash) is skipped."""
    for path in sorted(directory.glob(f"{suite}*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                continue


def latest_run(reports_dir: Path) -> Path | None:
    """The newest run directory (run ids sort by time)."""
    runs = sorted((reports_dir / "runs").glob("*"))
    return runs[-1] if runs else None

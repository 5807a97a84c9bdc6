"""Resuming a run: what it already paid for is looked up instead of asked again.

An answer is reused only when the same model file (sha256) gave it for the same item and
repeat; answers that never came (infrastructure errors) are asked again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stackeval import store
from stackeval.errors import ConfigError

RETRIED = {"infrastructure_error"}  # outcomes that produced no answer: asked again


def resolve_run(reports_dir: Path, value: str) -> Path:
    """The run directory named by ``--resume`` (a path, a run id, or ``latest``)."""
    if value == "latest":
        found = store.latest_run(reports_dir)
        if found is None:
            raise ConfigError(f"--resume=latest: no run under {reports_dir / 'runs'}")
        return found
    for candidate in (Path(value), store.run_dir(reports_dir, value)):
        if candidate.is_dir():
            return candidate
    raise ConfigError(f"--resume={value}: no such run directory (give a path under "
                      f"{reports_dir / 'runs'}, a run id or 'latest')")


class SavedAnswers:
    """The answered items of a run, keyed by suite and what identifies one ask."""

    def __init__(self, directory: Path | None = None) -> None:
        self._index: dict[tuple[Any, ...], dict[str, Any]] = {}
        if directory is None:
            return
        for suite, fields in (("qa", ("case_id", "lang", "repeat")),
                              ("coding", ("task_id", "lang", "sample", "client"))):
            for rec in store.read_records(directory, suite):
                if rec.get("outcome") in RETRIED:
                    continue
                defaults = {"client": "direct"}  # records from before --client existed
                key = (suite, rec.get("model"), *(rec.get(f, defaults.get(f)) for f in fields))
                self._index[key] = rec

    def __len__(self) -> int:
        return len(self._index)

    def get(self, suite: str, model: str, *ids: Any, sha256: str | None) -> dict[str, Any] | None:
        """The saved record of one ask, if the same model file answered it."""
        rec = self._index.get((suite, model, *ids))
        if rec is None or (rec.get("served") or {}).get("sha256") != sha256:
            return None
        return rec

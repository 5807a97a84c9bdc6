"""Do a run's Allure results and its saved records tell the same story?

Both are written as each test ends, by different code (allure-pytest and our record writer),
into different directories. Results lost from one of them (a directory emptied by another
session, a crash between the two writes) would otherwise go unnoticed: a report built from
the records alone would look complete. Tests are matched by name, the way allure-pytest names
them (``test_qa[<model>-<case>-<lang>]``), for the suites whose records name their test.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stackeval import store

# suite -> (test function, how a record names its test's parameter id)
SUITES = {
    "qa": ("test_qa", lambda r: f"{r['model']}-{r['case_id']}-{r['lang']}"),
    "coding": ("test_coding", lambda r: f"{r['model']}-{r['task_id']}-{r['lang']}"),
}
EXAMPLES = 3  # test names shown per kind of disagreement


@dataclass(frozen=True)
class Agreement:
    """The comparison of one run's records with its Allure results."""

    tests: int  # tests with records
    results: int  # Allure results of those suites' tests
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """True when nothing disagrees."""
        return not self.problems

    def line(self) -> str:
        """One line for the terminal."""
        if self.ok:
            return (f"Allure results and records agree: {self.tests} tests, each with its "
                    "result and its records")
        return ("Allure results and records DISAGREE (a result or a record was lost): "
                + "; ".join(self.problems))


def _record_tests(run_dir: Path) -> dict[str, bool]:
    """Test name -> whether every saved attempt of it passed."""
    tests: dict[str, bool] = {}
    for suite, (func, param_id) in SUITES.items():
        for rec in store.read_records(run_dir, suite):
            try:
                name = f"{func}[{param_id(rec)}]"
            except KeyError:
                continue
            ok = rec.get("outcome") == "pass" or rec.get("passed") is True
            tests[name] = tests.get(name, True) and ok
    return tests


def _allure_tests(results_dir: Path) -> dict[str, str]:
    """Test name -> status of its latest Allure result, for the suites compared here."""
    latest: dict[str, tuple[int, str]] = {}
    funcs = tuple(f"{func}[" for func, _ in SUITES.values())
    for path in results_dir.glob("*-result.json"):
        try:
            data: Mapping[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        name = str(data.get("name") or "")
        if not name.startswith(funcs):
            continue
        stop = int(data.get("stop") or 0)
        if name not in latest or stop >= latest[name][0]:
            latest[name] = (stop, str(data.get("status") or "unknown"))
    return {name: status for name, (_, status) in latest.items()}


def _examples(names: Iterable[str]) -> str:
    names = sorted(names)
    more = f" and {len(names) - EXAMPLES} more" if len(names) > EXAMPLES else ""
    return ", ".join(names[:EXAMPLES]) + more


def check(run_dir: Path, results_dir: Path) -> Agreement:
    """Compare: every test with records has a result, every answered test has records, and a
    test passed in Allure exactly when all its saved attempts passed."""
    records = _record_tests(run_dir)
    results = _allure_tests(results_dir)
    problems = []
    no_result = set(records) - set(results)
    if no_result:
        problems.append(f"{len(no_result)} test(s) have records but no Allure result in "
                        f"{results_dir} ({_examples(no_result)})")
    # A test that errored before it asked anything (e.g. the stack did not start) has no
    # record on purpose; a passed or failed one always has.
    answered = {n for n, status in results.items() if status in ("passed", "failed")}
    no_records = answered - set(records)
    if no_records:
        problems.append(f"{len(no_records)} Allure result(s) have no records in {run_dir} "
                        f"({_examples(no_records)})")
    status_differs = defaultdict(list)
    for name in set(records) & answered:
        if records[name] != (results[name] == "passed"):
            status_differs[results[name]].append(name)
    for status, names in sorted(status_differs.items()):
        problems.append(f"{len(names)} test(s) are {status} in Allure but their records say "
                        f"{'not ' if status == 'passed' else ''}passed ({_examples(names)})")
    return Agreement(len(records), len(results), tuple(problems))

"""Allure 3: result-dir metadata (categories, executor) and ``allure generate`` with run history.

Allure 3 (npm ``allure``) keeps history in a JSON-lines file named by ``historyPath`` in its
config (``allurerc``): each ``generate`` appends one data point per report, and the report's
trend charts and per-test History tab read it back. So the history lives in
``reports/allure-history.jsonl`` and survives ``make clean`` and new result directories.
Categories are config rules in Allure 3 (``categories``); ``categories.json`` in the results
dir is the Allure 2 form, written too so both generations classify failures the same way.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stackeval import progress
from stackeval.errors import ConfigError, StackEvalError

log = logging.getLogger(__name__)

HISTORY_FILE = "allure-history.jsonl"
CONFIG_FILE = "allurerc.json"
HISTORY_LIMIT = 50
RESULTS_DIR = "allure-results"
RUN_META = "allure"  # <run dir>/allure.json names the results dir the run wrote into


def run_results_dir(reports_dir: Path, run_id: str) -> Path:
    """Where one run's Allure results go: ``<reports>/allure-results/<run id>``.

    Every run has its own directory and no session ever cleans one, so a second pytest in the
    same checkout cannot erase the results of a run still going.
    """
    return reports_dir / RESULTS_DIR / run_id


def results_dir_of(run_dir: Path, reports_dir: Path) -> Path:
    """The Allure results directory a saved run wrote into.

    The run's own ``allure.json`` when present (it also covers ``--alluredir``), else the
    per-run directory; results from before per-run directories lie directly in
    ``<reports>/allure-results`` and are used when the run has no directory of its own.
    """
    try:
        meta = json.loads((run_dir / f"{RUN_META}.json").read_text(encoding="utf-8"))
        return Path(meta["results_dir"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    own = run_results_dir(reports_dir, run_dir.name)
    legacy = reports_dir / RESULTS_DIR
    if not own.exists() and any(legacy.glob("*-result.json")):
        return legacy
    return own


def has_results(results_dir: Path) -> bool:
    """True when the directory holds at least one test result."""
    return results_dir.is_dir() and any(results_dir.glob("*-result.json"))


def remove_if_empty(results_dir: Path) -> None:
    """Remove a results dir that holds no test result (only the metadata this run wrote)."""
    if not results_dir.is_dir() or has_results(results_dir):
        return
    for name in ("environment.properties", "categories.json", "executor.json"):
        (results_dir / name).unlink(missing_ok=True)
    try:
        results_dir.rmdir()  # fails, and keeps the dir, if anything else is in it
    except OSError:
        pass


def count_results(results_dir: Path) -> int:
    """How many test results the directory holds."""
    return sum(1 for _ in results_dir.glob("*-result.json")) if results_dir.is_dir() else 0


@dataclass(frozen=True)
class Category:
    """A failure class, matched on test status and on the failure message."""

    name: str
    statuses: tuple[str, ...]
    pattern: str  # a regex that Java (Allure 2, whole-message match) and JS (Allure 3) both take
    description: str

    def allure2(self) -> dict[str, Any]:
        """The ``categories.json`` entry."""
        return {"name": self.name, "matchedStatuses": list(self.statuses),
                "messageRegex": self.pattern, "description": self.description}

    def allure3(self) -> dict[str, Any]:
        """The ``categories`` rule of an Allure 3 config (its compatibility keys)."""
        return {"name": self.name, "matchedStatuses": list(self.statuses),
                "messageRegex": self.pattern}


def _any(*words: str) -> str:
    # [\s\S]* instead of (?s).*: JS regexes have no inline flags, and Java matches whole messages.
    return r"[\s\S]*(" + "|".join(words) + r")[\s\S]*"


# First match wins, so the specific harness failures come before "wrong answer".
CATEGORIES: tuple[Category, ...] = (
    Category("Sandbox violation", ("failed", "broken"),
             _any("SandboxError", r"\[sandbox", "sandbox_violation", "sandbox violation",
                  "output_limit", "file_size_limit", "cpu_limit"),
             "Model-written code broke a sandbox limit, or the sandbox itself failed."),
    Category("Timeout", ("failed", "broken"),
             _any("RequestTimeout", "StackNotReady", r"\[timeout\]", "timed out", "TimeoutError"),
             "No answer (or no finished program) within the deadline."),
    Category("Context overflow", ("failed", "broken"),
             _any("ContextOverflow", r"\[context_overflow\]"),
             "Prompt plus requested output exceeded the model's context window."),
    Category("Server error", ("broken", "failed"),
             _any("ServerError", "ServerGone", "StackError", "stack start failed",
                  r"\[infrastructure_error\]", "ClientError"),
             "The model server or gateway failed (5xx, died, refused connections)."),
    Category("Grader error", ("broken", "failed"),
             _any("GraderError", r"\[grader_error\]"),
             "The answer could not be graded: a harness bug, not a wrong answer."),
    Category("Truncated answer", ("failed",), _any(r"\[truncated\]"),
             "The answer was cut off at max_tokens before it could be graded correct."),
    Category("Broken program", ("failed",), _any(r"\[runtime_error\]", r"\[no_code\]"),
             "The model's program crashed, did not parse, or no code was found in the answer."),
    Category("Wrong answer", ("failed",), _any(r"\[wrong_answer\]", r"\[fail", "AssertionError"),
             "The model answered, and the answer was graded wrong."),
    Category("Other harness error", ("broken",), r"[\s\S]*",
             "A test error that none of the classes above explains."),
)


def executor_info(run_id: str) -> dict[str, Any]:
    """Allure's ``executor.json``: who ran it (CI or local) and which run it was."""
    info: dict[str, Any] = {"name": "stackeval (local)", "type": "local",
                            "buildName": f"stackeval run {run_id}",
                            "buildOrder": int(time.time()), "reportName": f"stackeval {run_id}"}
    if os.environ.get("GITHUB_RUN_ID"):
        url = (f"{os.environ.get('GITHUB_SERVER_URL', '')}/"
               f"{os.environ.get('GITHUB_REPOSITORY', '')}/actions/runs/"
               f"{os.environ['GITHUB_RUN_ID']}")
        info |= {"name": "GitHub Actions", "type": "github", "buildUrl": url}
    elif os.environ.get("CI_JOB_URL"):
        info |= {"name": "GitLab CI", "type": "gitlab", "buildUrl": os.environ["CI_JOB_URL"]}
    elif os.environ.get("CI"):
        info |= {"name": "CI", "type": "ci"}
    return info


def write_results_meta(results_dir: Path, run_id: str) -> None:
    """Write ``categories.json`` and ``executor.json`` into an Allure results directory."""
    results_dir.mkdir(parents=True, exist_ok=True)
    (results_dir / "categories.json").write_text(
        json.dumps([c.allure2() for c in CATEGORIES], indent=2), encoding="utf-8")
    (results_dir / "executor.json").write_text(
        json.dumps(executor_info(run_id), indent=2), encoding="utf-8")


def hardware_properties(hardware: dict[str, Any]) -> dict[str, str]:
    """``environment.properties`` lines for CPU, RAM, GPU and driver."""
    host = hardware.get("host") or {}
    props = {
        "host.cpu": f"{host.get('cpu_model', '?')} ({host.get('cpu_cores', '?')} cores, "
                    f"{host.get('cpu_threads', '?')} threads)",
        "host.ram_gib": str(host.get("ram_total_gib", "?")),
        "host.os": str(host.get("os", "?")),
    }
    gpus = hardware.get("gpus") or []
    for g in gpus:
        props[f"gpu{g.get('index', 0)}"] = (f"{g.get('name')} {g.get('memory_total_mib', 0):.0f} "
                                            f"MiB driver {g.get('driver_version')} CUDA "
                                            f"{g.get('cuda_version')}")
    if not gpus:
        props["gpu"] = "none detected"
    return props


def append_environment(results_dir: Path, props: dict[str, str]) -> None:
    """Add keys missing from ``environment.properties`` (the core plugin writes the rest)."""
    path = results_dir / "environment.properties"
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    have = {line.split("=", 1)[0].strip() for line in text.splitlines() if "=" in line}
    new = [f"{k} = {str(v).replace(chr(10), ' ')}" for k, v in props.items() if k not in have]
    if new:
        results_dir.mkdir(parents=True, exist_ok=True)
        sep = "" if not text or text.endswith("\n") else "\n"
        path.write_text(text + sep + "\n".join(new) + "\n", encoding="utf-8")


def allure_command(root: Path) -> list[str]:
    """The project's own Allure 3 CLI (``npm ci`` installs it); never downloads one."""
    local = root / "node_modules" / ".bin" / "allure"
    if local.exists():
        return [str(local)]
    raise ConfigError(f"Allure 3 is not installed under {root}/node_modules: run `npm ci` in "
                      f"{root} (make report does it), which installs the allure version pinned "
                      "in package-lock.json")


def _last_history_name(history: Path) -> str | None:
    if not history.exists():
        return None
    lines = [ln for ln in history.read_text(encoding="utf-8").splitlines() if ln.strip()]
    try:
        return json.loads(lines[-1]).get("name") if lines else None
    except ValueError:
        return None


def build_config(report_dir: Path, history: Path, name: str, append: bool) -> dict[str, Any]:
    """The Allure 3 config: single-file Awesome report, categories, history file."""
    return {
        "name": name,
        "output": str(report_dir),
        "historyPath": str(history),
        "historyLimit": HISTORY_LIMIT,
        "appendHistory": append,
        "categories": [c.allure3() for c in CATEGORIES],
        "plugins": {"awesome": {"options": {
            "singleFile": True, "reportLanguage": "en",
            "groupBy": ["suite", "model", "category"]}}},
    }


def generate(results_dir: Path, report_dir: Path, *, run_id: str, root: Path,
             history: Path | None = None, timeout_s: float = 300) -> Path:
    """Render ``results_dir`` into ``report_dir/index.html``, appending to the run history.

    Generating the same run twice does not add a second history point.
    """
    results_dir, report_dir = results_dir.resolve(), report_dir.resolve()
    if not has_results(results_dir):
        raise ConfigError(f"{results_dir}: no Allure results (run the evals first: "
                          "pytest evals/ -m qa)")
    history = (history or report_dir.parent / HISTORY_FILE).resolve()
    if not (results_dir / "categories.json").exists():
        write_results_meta(results_dir, run_id)
    name = f"stackeval run {run_id}"
    append = _last_history_name(history) != name
    config = report_dir.parent / CONFIG_FILE
    config.write_text(json.dumps(build_config(report_dir, history, name, append), indent=2),
                      encoding="utf-8")
    if report_dir.exists():
        shutil.rmtree(report_dir)  # generated output only; stale files would mix two reports
    cmd = [*allure_command(root), "generate", "--config", str(config), str(results_dir)]
    log.info("allure: %s", " ".join(cmd))
    progress.step("allure generate: %d results of run %s into %s (takes a few seconds to a "
                  "minute)", count_results(results_dir), run_id, report_dir)
    returncode, output = _run_with_heartbeat(cmd, root, timeout_s)
    index = report_dir / "index.html"
    if returncode != 0 or not index.exists():
        raise StackEvalError(f"allure generate exited {returncode} without {index}:\n"
                             f"{output[-2000:]}")
    _fix_single_file(index)
    return index


def _run_with_heartbeat(cmd: list[str], root: Path, timeout_s: float,
                        every_s: float = 15.0) -> tuple[int, str]:
    """Run ``allure generate``, saying every ``every_s`` seconds that it is still at work."""
    started = time.monotonic()
    try:
        with subprocess.Popen(cmd, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, env={**os.environ, "NO_COLOR": "1"}) as proc:
            while True:
                try:
                    output, _ = proc.communicate(timeout=every_s)
                    break
                except subprocess.TimeoutExpired:
                    elapsed = time.monotonic() - started
                    if elapsed > timeout_s:
                        proc.kill()
                        proc.communicate()
                        raise StackEvalError(f"allure generate did not finish within "
                                             f"{timeout_s:.0f} s") from None
                    progress.step("allure generate: still at work (%.0f s)", elapsed)
    except OSError as exc:
        raise StackEvalError(f"allure generate failed to run: {exc}") from exc
    progress.step("allure generate: done in %.1f s", time.monotonic() - started)
    return proc.returncode, output or ""


_ANALYTICS = re.compile(r'<script async src="https://www\.googletagmanager\.com/[^"]*"></script>'
                        r"\s*<script>\s*window\.dataLayer.*?</script>", re.DOTALL)
_DATA_INIT = "<script>window.allureReportData = window.allureReportData || {};</script>"


def _fix_single_file(index: Path) -> None:
    """Two repairs of Allure 3's single-file page, so it works offline from disk.

    It always embeds Google Analytics (a request to googletagmanager.com on every open): removed.
    And its app sometimes asks for data before the inline data object exists, then falls back to
    fetching ``widgets/*.json`` from file://, which the browser refuses, leaving an empty page:
    the data object is now created in <head>, before the app starts.
    """
    html = index.read_text(encoding="utf-8")
    fixed, n_analytics = _ANALYTICS.subn("", html, count=1)
    if _DATA_INIT not in fixed:
        fixed = fixed.replace("</head>", _DATA_INIT + "</head>", 1)
    if not n_analytics or "</head>" not in html:
        log.warning("allure: %s did not look as expected (analytics tag found: %s); "
                    "check the page opens offline", index, bool(n_analytics))
    index.write_text(fixed, encoding="utf-8")

"""The plugin's core: options, markers, settings resolved once, model parametrization, ordering.

Every option comes from the settings tree (:mod:`stackeval.config`); ``pytest_configure``
resolves it once into ``config.stash`` (see :mod:`stackeval.plugin.runtime`). The stack starts
lazily, the first time an eval asks for it, so ``pytest tests/`` never starts servers.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from stackeval import store
from stackeval.config import SessionSettings, new_run_id
from stackeval.errors import StackEvalError
from stackeval.models.resolve import resolve_models
from stackeval.options import Option, options
from stackeval.plugin import attachments
from stackeval.plugin.runtime import RUNTIME, Runtime, model_of, runtime
from stackeval.report import allure
from stackeval.resume import resolve_run
from stackeval.summary import coding_table, format_coding_table, format_qa_table, qa_table

log = logging.getLogger(__name__)

SUITES = {
    "qa": "Q&A evals: questions graded deterministically",
    "coding": "coding evals: model-written code run in a sandbox",
    "perf": "performance evals: latency and throughput with pytest-benchmark",
    "webui": "evals through Open WebUI (API and browser)",
}
MARKERS = SUITES | {
    "integration": "harness tests that start real servers",
    "stackeval": "stackeval(max_tokens=N): per-test knobs of an eval (max_tokens: the output "
                 "token limit of its asks)",
}
KNOBS = ("max_tokens",)  # the keys @pytest.mark.stackeval accepts


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register every setting as --flag and ini key in the stackeval group; help shows defaults."""
    group = parser.getgroup("stackeval", "stackeval: evaluate local LLM stacks")
    for cls in SessionSettings.GROUPS:
        for opt in options(cls):
            help_ = opt.help_text
            if opt.flag:
                group.addoption(opt.cli, action="store_true", default=None, help=help_)
                parser.addini(opt.ini, help_, type="bool", default=None)
            else:
                group.addoption(opt.cli, default=None, help=help_,
                                metavar=opt.metavar or opt.name.upper(),
                                action="append" if opt.many else "store")
                parser.addini(opt.ini, help_, default=None)


def option_value(config: pytest.Config, opt: Option) -> Any:
    """An option's raw value: command line, else ini, else None (env vars come after)."""
    value = config.getoption(opt.name)
    if value is None:
        value = config.getini(opt.ini)
    return value


@pytest.hookimpl(tryfirst=True)  # before allure-pytest reads --alluredir
def pytest_configure(config: pytest.Config) -> None:
    """Register markers and resolve settings and models once (xdist workers reuse the
    controller's run id)."""
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")
    workerinput = getattr(config, "workerinput", None)
    run_id = workerinput["stackeval_run_id"] if workerinput else new_run_id()
    try:
        session = SessionSettings.resolve(lambda opt: option_value(config, opt), run_id=run_id)
        if session.run.resume:  # the resumed run's directory and id: records are appended there
            run = session.run
            session = replace(session, run=replace(
                run, run_id=resolve_run(run.reports_dir, run.resume).name))
        specs = resolve_models(session.run.models, profile=session.run.stack)
    except StackEvalError as exc:
        raise pytest.UsageError(str(exc)) from exc
    config.stash[RUNTIME] = rt = Runtime(config, session, specs)
    if getattr(config.option, "allure_report_dir", "") is None and _runs_evals(config):
        # Each run writes into its own results dir and nothing is ever cleaned, so no session
        # erases another's results (xdist workers share the controller's run id and dir).
        config.option.allure_report_dir = str(allure.run_results_dir(rt.settings.reports_dir,
                                                                     rt.settings.run_id))


def _runs_evals(config: pytest.Config) -> bool:
    """True unless every path given is under tests/ (harness tests stay out of eval reports)."""
    tests = config.rootpath / "tests"
    paths = [Path(a.split("::")[0]).resolve() for a in config.args] or [config.rootpath]
    return not all(p.is_relative_to(tests) for p in paths)


def pytest_configure_node(node: Any) -> None:
    """Hand the controller's run id to each xdist worker (an xdist hook)."""
    node.workerinput["stackeval_run_id"] = node.config.stash[RUNTIME].settings.run_id


@pytest.hookimpl(tryfirst=True)  # first, so the model leads every test id: "m:1b-case"
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """An eval (marked qa, coding, perf or webui) taking ``model`` runs once per run model."""
    if "model" not in metafunc.fixturenames or _parametrizes_model(metafunc):
        return
    if any(metafunc.definition.get_closest_marker(suite) for suite in SUITES):
        metafunc.parametrize("model", runtime(metafunc.config).models)


def _parametrizes_model(metafunc: pytest.Metafunc) -> bool:
    for mark in metafunc.definition.iter_markers("parametrize"):
        names = mark.args[0] if mark.args else mark.kwargs.get("argnames", ())
        if isinstance(names, str):
            names = [n.strip() for n in names.split(",")]
        if "model" in names:
            return True
    return False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Reject unknown marker knobs; run each model's tests together, so lazily loaded servers
    load once each."""
    for item in items:
        for mark in item.iter_markers("stackeval"):
            unknown = sorted(set(mark.kwargs) - set(KNOBS))
            if mark.args or unknown:
                raise pytest.UsageError(
                    f"{item.nodeid}: @pytest.mark.stackeval takes only keyword knobs "
                    f"({', '.join(KNOBS)}); got {', '.join(unknown) or 'positional arguments'}")
    order = {m: i for i, m in enumerate(dict.fromkeys(filter(None, map(model_of, items))))}
    items.sort(key=lambda it: order.get(model_of(it) or "", -1))


def knobs(item: pytest.Item) -> dict[str, Any]:
    """The ``stackeval`` marker's knobs of a test (the closest marker wins a key)."""
    merged: dict[str, Any] = {}
    for mark in reversed(list(item.iter_markers("stackeval"))):
        merged.update(mark.kwargs)
    return merged


def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """Unload a model's server once its last test has run."""
    model = model_of(item)
    stack = runtime(item.config).started_stack
    if model and stack is not None and (nextitem is None or model_of(nextitem) != model):
        stack.release(model)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Stop the stack and write Allure's environment file (controller only)."""
    rt = runtime(session.config)
    rt.finish()
    if not rt.worker and any(rt.run_dir.glob("qa*.jsonl")):
        _save_grader_agreement(rt)
    alluredir = session.config.getoption("allure_report_dir", None)
    if alluredir and not rt.worker:
        attachments.write_environment(rt, Path(alluredir))


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """Print the per-model Q&A and coding tables computed from this run's saved records."""
    rt = runtime(config)
    if getattr(config, "workerinput", None) is not None:
        return
    tables = [("Q&A", format_qa_table(qa_table(store.read_records(rt.run_dir, "qa")))),
              ("coding", format_coding_table(coding_table(
                  store.read_records(rt.run_dir, "coding"), rt.settings.samples)))]
    for title, lines in tables:
        if lines:
            terminalreporter.section(f"stackeval: {title} summary")
            for line in lines:
                terminalreporter.write_line(line)


def _save_grader_agreement(rt: Runtime) -> None:
    """How far the graders that graded this run agree with the hand-labelled calibration set.

    Measured now and saved with the run, since the report may be built after the graders change.
    """
    from stackeval.graders.calibration import measure_fixtures

    try:
        measured = measure_fixtures()
    except (StackEvalError, KeyError) as exc:  # labels missing, or a label's question removed
        log.warning("grader agreement not measured: %s", exc)
        return
    rt.writer.write_meta("grader_agreement", measured.to_dict())

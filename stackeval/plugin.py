"""The pytest plugin: options, markers, session fixtures and hooks over the stackeval library.

Plugin state lives in ``config.stash``. The stack starts lazily, the first time an eval asks for
it, so ``pytest tests/`` never starts servers. Under pytest-xdist the first worker starts one
shared stack behind a file lock and the others attach to it through a state file; the last
worker to finish stops it.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from filelock import FileLock

from stackeval import attach, store
from stackeval.client import StreamingClient
from stackeval.config import OPTIONS, Option, Settings, new_run_id
from stackeval.errors import StackEvalError
from stackeval.prompting import Asker
from stackeval.report import allure
from stackeval.resume import SavedAnswers, resolve_run
from stackeval.sandbox import Sandbox, choose_sandbox
from stackeval.scheduler import AskPool
from stackeval.stack.base import Stack
from stackeval.stack.factory import create_stack, selected_models
from stackeval.statefile import write_private
from stackeval.summary import coding_table, format_coding_table, format_qa_table, qa_table

log = logging.getLogger(__name__)

# Registered by pytest_configure: session lifecycle (signals, bad input, progress) and the
# terminal's one line per wrong answer.
SUBPLUGINS = ("stackeval.plugin_session", "stackeval.plugin_terminal")

MARKERS = {
    "qa": "Q&A evals: questions graded deterministically",
    "coding": "coding evals: model-written code run in a sandbox",
    "perf": "performance evals: latency and throughput with pytest-benchmark",
    "webui": "evals through Open WebUI (API and browser)",
    "integration": "harness tests that start real servers",
}


def add_options(parser: pytest.Parser, options: tuple[Option, ...]) -> None:
    """Register options as --flag and ini key in the stackeval group; help states the default."""
    group = parser.getgroup("stackeval", "stackeval: evaluate local LLM stacks")
    for opt in options:
        default = (",".join(map(str, opt.default)) if isinstance(opt.default, tuple)
                   else opt.default)
        shown = 'unset' if default in (None, '', ()) else default
        help_ = f"{opt.help} [default: {shown}; env {opt.env}]"
        if opt.flag:
            group.addoption(opt.cli, action="store_true", default=None, help=help_)
            parser.addini(f"stackeval_{opt.name}", help_, type="bool", default=None)
        else:
            group.addoption(opt.cli, default=None, help=help_, metavar=opt.name.upper(),
                            action="append" if opt.many else "store")
            parser.addini(f"stackeval_{opt.name}", help_, default=None)


def option_value(config: pytest.Config, opt: Option) -> Any:
    """An option's raw value: command line, else ini, else None (env vars come after)."""
    value = config.getoption(opt.name)
    if value is None:
        value = config.getini(f"stackeval_{opt.name}")
    return value


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register every run setting (see config.OPTIONS)."""
    add_options(parser, OPTIONS)


class Runtime:
    """Per-process plugin state: settings, the (lazily started) stack, client and record writer."""

    def __init__(self, config: pytest.Config, settings: Settings, models: list[str]) -> None:
        self.config = config
        self.settings = settings
        self.models = models
        self.worker = os.environ.get("PYTEST_XDIST_WORKER")
        self.run_dir = store.run_dir(settings.reports_dir, settings.run_id)
        self.writer = store.RecordWriter(self.run_dir, self.worker)
        self._stack: Stack | None = None
        self._client: StreamingClient | None = None
        self._start_error: BaseException | None = None
        self.saved = SavedAnswers(self.run_dir if settings.resume else None)
        self.pool = AskPool(self.concurrency)

    def concurrency(self, model: str) -> int:
        """Asks in flight per model: the option, else every slot of the embedded servers.

        xdist workers ask one at a time: each worker runs only some of the collected tests.
        """
        per_endpoint = getattr(self._stack, "concurrency", None)  # --endpoint ...?concurrency=N
        if per_endpoint is not None and per_endpoint(model):
            return per_endpoint(model)
        if self.settings.ask_concurrency:
            return self.settings.ask_concurrency
        if self.worker:
            return 1
        shape = getattr(self._stack, "shape", None)
        return shape.slots if shape is not None else 4

    @property
    def started_stack(self) -> Stack | None:
        """The stack if it has been started in this process, else None (never starts it)."""
        return self._stack

    @property
    def shared_dir(self) -> Path:
        """Lock and state files of the shared (xdist) stack."""
        return self.settings.reports_dir / "stack" / self.settings.run_id

    def stack(self) -> Stack:
        """The started stack; a failed start is remembered so later tests fail fast."""
        if self._stack is not None:
            return self._stack
        if self._start_error is not None:
            raise StackEvalError(f"the stack failed to start earlier: {self._start_error}")
        try:
            self._stack = self._start_shared() if self.worker else self._start_local()
        except BaseException as exc:
            self._start_error = exc
            raise
        self.writer.write_meta("environment", self.environment())
        return self._stack

    def _start_local(self) -> Stack:
        stack = create_stack(self.settings, progress=True)
        stack.start()
        return stack

    def _start_shared(self) -> Stack:
        self.shared_dir.mkdir(parents=True, exist_ok=True)
        state_file = self.shared_dir / "shared.json"
        with FileLock(str(self.shared_dir / "shared.lock")):
            shared = json.loads(state_file.read_text()) if state_file.exists() else None
            if shared is None:
                stack = create_stack(self.settings, progress=False, eager=True)
                stack.start()
                state = stack.state() if hasattr(stack, "state") else {}
                shared = {"state": state, "users": []}
            else:
                stack = create_stack(self.settings, progress=False, state=shared["state"])
            shared["users"].append(self.worker)
            write_private(state_file, json.dumps(shared))  # holds the gateway key
        return stack

    def client(self) -> StreamingClient:
        """The streaming client, failing fast when a model server has died."""
        if self._client is None:
            stack = self.stack()
            self._client = StreamingClient(timeout_s=self.settings.request_timeout,
                                           retries=self.settings.retries,
                                           alive_check=stack.check_alive)
        return self._client

    def environment(self) -> dict[str, Any]:
        """Facts for reports: profile, endpoints without keys, served models, host."""
        stack = self._stack
        env: dict[str, Any] = {
            "run_id": self.settings.run_id,
            "host": platform.node(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpu_count": os.cpu_count(),
            "settings": {k: v for k, v in vars(self.settings).items() if k != "api_key"},
        }
        if stack is not None:
            env["stack"] = stack.describe()
            env["models"] = {m: stack.served(m).to_dict() for m in stack.models()}
        return env

    def finish(self) -> None:
        """Stop what this process owns (the last xdist worker stops the shared stack).

        Asks still in flight (a session cut short) end when their servers stop; the client is
        closed last, since closing it does not interrupt a read that is already waiting.
        """
        self.pool.close()
        self.writer.closing = True
        try:
            self._stop_stack()
        finally:
            if self._client is not None:
                self._client.close()

    def _stop_stack(self) -> None:
        load_times = getattr(self._stack, "load_times", None)
        if load_times:
            self.writer.write_meta(f"load_times{'-' + self.worker if self.worker else ''}",
                                   {"seconds_to_healthy": load_times})
        if self._stack is None or self.settings.keep_stack:
            if self._stack is not None:
                log.warning("--keep-stack: the stack stays up: %s", self._stack.describe())
            return
        if not self.worker:
            self._stack.stop()
            return
        state_file = self.shared_dir / "shared.json"
        with FileLock(str(self.shared_dir / "shared.lock")):
            shared = json.loads(state_file.read_text())
            shared["users"].remove(self.worker)
            write_private(state_file, json.dumps(shared))
            if not shared["users"]:
                self._stack.stop()
                state_file.unlink()


RUNTIME = pytest.StashKey[Runtime]()


@pytest.hookimpl(tryfirst=True)  # before allure-pytest reads --alluredir
def pytest_configure(config: pytest.Config) -> None:
    """Register markers and resolve settings once (xdist workers reuse the controller's run id)."""
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")
    workerinput = getattr(config, "workerinput", None)
    run_id = workerinput["stackeval_run_id"] if workerinput else new_run_id()
    try:
        settings = Settings.resolve(lambda opt: option_value(config, opt), run_id=run_id)
        if settings.resume:  # the resumed run's directory and id: records are appended there
            settings = replace(settings, run_id=resolve_run(settings.reports_dir,
                                                            settings.resume).name)
        models = selected_models(settings)
    except StackEvalError as exc:
        raise pytest.UsageError(str(exc)) from exc
    config.stash[RUNTIME] = Runtime(config, settings, models)
    if workerinput is None:
        config.pluginmanager.register(ProgressLines(config), "stackeval-progress")
    if getattr(config.option, "allure_report_dir", "") is None and _runs_evals(config):
        # Each run writes into its own results dir and nothing is ever cleaned, so no session
        # erases another's results (xdist workers share the controller's run id and dir).
        config.option.allure_report_dir = str(allure.run_results_dir(settings.reports_dir,
                                                                     settings.run_id))
    for name in SUBPLUGINS:
        config.pluginmanager.import_plugin(name)


def _runs_evals(config: pytest.Config) -> bool:
    """True unless every path given is under tests/ (harness tests stay out of eval reports)."""
    tests = config.rootpath / "tests"
    paths = [Path(a.split("::")[0]).resolve() for a in config.args] or [config.rootpath]
    return not all(p.is_relative_to(tests) for p in paths)


def pytest_configure_node(node: Any) -> None:
    """Hand the controller's run id to each xdist worker (an xdist hook)."""
    node.workerinput["stackeval_run_id"] = node.config.stash[RUNTIME].settings.run_id


def runtime(config: pytest.Config) -> Runtime:
    """The plugin state of this pytest process."""
    return config.stash[RUNTIME]


def models_for(config: pytest.Config) -> list[str]:
    """Models to parametrize evals over (checked against the catalog at configure time)."""
    return runtime(config).models


def _model_of(item: pytest.Item) -> str | None:
    callspec = getattr(item, "callspec", None)
    return callspec.params.get("model") if callspec else None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run each model's tests together, so lazily loaded servers load once each."""
    order = {m: i for i, m in enumerate(dict.fromkeys(filter(None, map(_model_of, items))))}
    items.sort(key=lambda it: order.get(_model_of(it) or "", -1))


class ProgressLines:
    """Every 15 s while asks run, a line per busy model: done/total, tokens/s, time left.

    Written from ``pytest_runtest_logreport``, where pytest's output capture is suspended.
    """

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self._last = time.monotonic()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Maybe print progress after each test phase."""
        now = time.monotonic()
        if now - self._last < 15:
            return
        self._last = now
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        for model, progress in runtime(self.config).pool.progress.items():
            if progress.done < progress.submitted and reporter is not None:
                # After -q's dots write_line does not start a new line by itself.
                if getattr(reporter._tw, "width_of_current_line", 0):
                    reporter.write("\n")
                reporter.write_line(f"[stackeval] {progress.line(model)}")


def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """Unload a model's server once its last test has run."""
    model = _model_of(item)
    stack = runtime(item.config).started_stack
    if model and stack is not None and (nextitem is None or _model_of(nextitem) != model):
        stack.release(model)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """On a harness error (not a wrong answer), attach every service's log tail to Allure."""
    outcome = yield
    rep = outcome.get_result()
    stack = runtime(item.config).started_stack
    if rep.failed and stack is not None and call.excinfo is not None \
            and call.excinfo.errisinstance(StackEvalError):
        for service, tail in stack.logs(50).items():
            attach.text(f"log: {service}", tail)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Stop the stack and write Allure's environment file (controller only)."""
    rt = runtime(session.config)
    rt.finish()
    if not rt.worker and any(rt.run_dir.glob("qa*.jsonl")):
        _save_grader_agreement(rt)
    alluredir = session.config.getoption("allure_report_dir", None)
    if alluredir and not rt.worker:
        env_file = rt.run_dir / "environment.json"
        env = json.loads(env_file.read_text()) if env_file.exists() else rt.environment()
        flat = {"run_id": env["run_id"], "platform": env["platform"], "cpu_count": env["cpu_count"]}
        flat.update({f"stack.{k}": v for k, v in (env.get("stack") or {}).items()})
        for name, m in (env.get("models") or {}).items():
            flat[f"model.{name}"] = (f"{m.get('file')} sha256={m.get('sha256')} "
                                     f"{m.get('quantization')} ctx={m.get('context_size')} "
                                     f"kind={m.get('kind')}")
        attach.write_environment(Path(alluredir), flat)


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


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """Print the per-model Q&A table computed from this run's saved records."""
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


# -- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def stackeval_settings(pytestconfig: pytest.Config) -> Settings:
    """The resolved run settings."""
    return runtime(pytestconfig).settings


@pytest.fixture(scope="session")
def stack(pytestconfig: pytest.Config) -> Stack:
    """The started stack (started on first use, stopped at session end)."""
    try:
        return runtime(pytestconfig).stack()
    except StackEvalError as exc:
        if runtime(pytestconfig).worker:  # xdist: the controller decides when the run ends
            pytest.fail(f"stack start failed: {exc}", pytrace=False)
        pytest.exit(f"stack start failed: {exc}", returncode=pytest.ExitCode.INTERRUPTED)


@pytest.fixture(scope="session")
def asker(pytestconfig: pytest.Config, stack: Stack) -> Asker:
    """Sends prompts to models in the format each understands (chat or completion)."""
    rt = runtime(pytestconfig)
    return Asker(stack, rt.client(), rt.settings)


@pytest.fixture(scope="session")
def sandbox(pytestconfig: pytest.Config) -> Sandbox:
    """Where model-written code runs (Docker, else bubblewrap; never the bare host by default)."""
    settings = runtime(pytestconfig).settings
    try:
        box = choose_sandbox(settings.sandbox, allow_unsafe=settings.unsafe_exec)
    except StackEvalError as exc:
        pytest.fail(f"no sandbox for model-written code: {exc}", pytrace=False)
    runtime(pytestconfig).writer.write_meta("sandbox", {"sandbox": box.name})
    return box


@pytest.fixture(scope="session")
def record_writer(pytestconfig: pytest.Config) -> store.RecordWriter:
    """Appends result records to this run's directory under reports/runs/."""
    return runtime(pytestconfig).writer


class Answers:
    """Per-test results of work that runs concurrently with the same model's other tests.

    The first test of a model (in one test function) submits its own work and that of every
    later selected test of the same model and function; each test then waits for its own.
    """

    def __init__(self, session: pytest.Session, rt: Runtime, asker: Asker) -> None:
        self.session = session
        self.rt = rt
        self.asker = asker
        self._order: dict[str, int] | None = None

    @property
    def saved(self) -> SavedAnswers:
        """Answers of the run being resumed (empty when not resuming)."""
        return self.rt.saved

    def result_for(self, item: pytest.Item, work: Callable[[dict[str, Any]], Any],
                   tokens: Callable[[Any], int] | None = None) -> Any:
        """``work(params)`` for this test, computed in the model's pool."""
        model = _model_of(item)
        params = item.callspec.params  # type: ignore[attr-defined]
        if model is None or self.rt.worker:  # an xdist worker runs only some of its items
            return work(params)
        if item.nodeid not in self.rt.pool:
            self.asker.prepare(model)  # load in this thread: loading is not concurrent
            self.rt.writer.write_meta(f"asks-{model.replace('/', '-')}", {
                "model": model, "concurrency": self.rt.concurrency(model),
                "serving": self.asker.stack.served(model).serving})
            if self._order is None:
                self._order = {it.nodeid: i for i, it in enumerate(self.session.items)}
            later = self.session.items[self._order.get(item.nodeid, 0):]
            func = getattr(item, "function", None)
            for it in later:
                if _model_of(it) == model and getattr(it, "function", None) is func:
                    it_params = it.callspec.params  # type: ignore[attr-defined]
                    self.rt.pool.submit(model, it.nodeid,
                                        lambda p=it_params: work(p), tokens)
        return self.rt.pool.result(item.nodeid)


@pytest.fixture(scope="session")
def answers(request: pytest.FixtureRequest, pytestconfig: pytest.Config,
            asker: Asker) -> Answers:
    """Concurrent asks with per-test results (see ``Answers``) and the resumed run's answers."""
    return Answers(request.session, runtime(pytestconfig), asker)

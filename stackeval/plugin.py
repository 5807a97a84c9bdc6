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
from pathlib import Path
from typing import Any

import pytest
from filelock import FileLock

from stackeval import attach, store
from stackeval.client import StreamingClient
from stackeval.config import OPTIONS, Option, Settings, new_run_id
from stackeval.errors import StackEvalError
from stackeval.prompting import Asker
from stackeval.sandbox import Sandbox, choose_sandbox
from stackeval.stack.base import Stack
from stackeval.stack.factory import create_stack, selected_models
from stackeval.summary import coding_table, format_coding_table, format_qa_table, qa_table

log = logging.getLogger(__name__)

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
        help_ = f"{opt.help} [default: {default or 'unset'}; env {opt.env}]"
        if opt.flag:
            group.addoption(opt.cli, action="store_true", default=None, help=help_)
            parser.addini(f"stackeval_{opt.name}", help_, type="bool", default=None)
        else:
            group.addoption(opt.cli, default=None, help=help_, metavar=opt.name.upper())
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
            state_file.write_text(json.dumps(shared))
            state_file.chmod(0o600)  # holds the gateway key
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
        """Stop what this process owns (the last xdist worker stops the shared stack)."""
        if self._client is not None:
            self._client.close()
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
            state_file.write_text(json.dumps(shared))
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
        models = selected_models(settings)
    except StackEvalError as exc:
        raise pytest.UsageError(str(exc)) from exc
    config.stash[RUNTIME] = Runtime(config, settings, models)
    if getattr(config.option, "allure_report_dir", "") is None and _runs_evals(config):
        config.option.allure_report_dir = str(settings.reports_dir / "allure-results")
        # One run per results dir (history lives apart, see stackeval.report.allure); only the
        # controller cleans, so xdist workers never erase each other's results.
        config.option.clean_alluredir = workerinput is None


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
            terminalreporter.write_line(f"records: {rt.run_dir}")


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
        pytest.fail(f"stack start failed: {exc}", pytrace=False)


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

"""The fixtures evals use: settings, the started stack, client, asker, sandbox, records, answers.

Evals take what they need from here (and ``perf_settings`` / ``webui`` from the perf and web UI
modules); none imports the plugin's state.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from stackeval import store
from stackeval.client import StreamingClient
from stackeval.config import Settings
from stackeval.errors import StackEvalError
from stackeval.plugin.core import knobs
from stackeval.plugin.runtime import Runtime, model_of, runtime
from stackeval.prompting import Asker
from stackeval.resume import SavedAnswers
from stackeval.sandbox import Sandbox, choose_sandbox
from stackeval.stack.base import Stack


@pytest.fixture(scope="session")
def stackeval_settings(pytestconfig: pytest.Config) -> Settings:
    """The resolved run settings."""
    return runtime(pytestconfig).settings


@pytest.fixture
def stackeval_knobs(request: pytest.FixtureRequest) -> dict[str, Any]:
    """This test's ``@pytest.mark.stackeval(...)`` knobs (empty when it has none)."""
    return knobs(request.node)


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
def client(pytestconfig: pytest.Config, stack: Stack) -> StreamingClient:
    """The run's streaming client (fails fast when a model server has died)."""
    return runtime(pytestconfig).client()


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


@pytest.fixture(scope="session")
def run_dir(pytestconfig: pytest.Config) -> Path:
    """This run's directory (reports/runs/<run id>), for files kept beside the records."""
    return runtime(pytestconfig).run_dir


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
                   tokens: Callable[[Any], int] | None = None,
                   size: Callable[[dict[str, Any]], float] | None = None) -> Any:
        """``work(params)`` for this test, computed in the model's pool.

        With ``size`` (the expected length of a test's work) the largest is submitted first, so
        that no long answer starts last and runs on alone while the server's other slots idle.
        """
        model = model_of(item)
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
            mine = [it for it in later
                    if model_of(it) == model and getattr(it, "function", None) is func]
            if size is not None:
                mine.sort(key=lambda it: -size(it.callspec.params))  # type: ignore[attr-defined]
            for it in mine:
                it_params = it.callspec.params  # type: ignore[attr-defined]
                self.rt.pool.submit(model, it.nodeid, lambda p=it_params: work(p), tokens)
        return self.rt.pool.result(item.nodeid)


@pytest.fixture(scope="session")
def answers(request: pytest.FixtureRequest, pytestconfig: pytest.Config,
            asker: Asker) -> Answers:
    """Concurrent asks with per-test results (see ``Answers``) and the resumed run's answers."""
    return Answers(request.session, runtime(pytestconfig), asker)

"""The plugin's per-process state: resolved settings, the lazily started stack, client, records.

Kept in ``config.stash[RUNTIME]``; fixtures hand its parts to the evals. Under pytest-xdist the
first worker starts one shared stack behind a file lock and the others attach to it through a
state file; the last worker to finish stops it.
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

from stackeval import store
from stackeval.client import StreamingClient
from stackeval.config import SessionSettings, Settings
from stackeval.errors import StackEvalError
from stackeval.models.catalog import ModelSpec
from stackeval.resume import SavedAnswers
from stackeval.scheduler import AskPool
from stackeval.stack.base import Stack
from stackeval.stack.factory import create_stack
from stackeval.statefile import write_private

log = logging.getLogger(__name__)


class Runtime:
    """Per-process plugin state: settings, the (lazily started) stack, client and record writer."""

    def __init__(self, config: pytest.Config, session: SessionSettings,
                 specs: tuple[ModelSpec, ...]) -> None:
        self.config = config
        self.session = session
        self.settings: Settings = session.run
        self.specs = specs
        self.models = [spec.name for spec in specs]
        self.worker = os.environ.get("PYTEST_XDIST_WORKER")
        self.run_dir = store.run_dir(self.settings.reports_dir, self.settings.run_id)
        self.writer = store.RecordWriter(self.run_dir, self.worker)
        self._stack: Stack | None = None
        self._client: StreamingClient | None = None
        self._start_error: BaseException | None = None
        self.saved = SavedAnswers(self.run_dir if self.settings.resume else None)
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
        stack = create_stack(self.settings, self.specs, progress=True)
        stack.start()
        return stack

    def _start_shared(self) -> Stack:
        self.shared_dir.mkdir(parents=True, exist_ok=True)
        state_file = self.shared_dir / "shared.json"
        with FileLock(str(self.shared_dir / "shared.lock")):
            shared = json.loads(state_file.read_text()) if state_file.exists() else None
            if shared is None:
                stack = create_stack(self.settings, self.specs, progress=False, eager=True)
                stack.start()
                state = stack.state() if hasattr(stack, "state") else {}
                shared = {"state": state, "users": []}
            else:
                stack = create_stack(self.settings, self.specs, progress=False,
                                     state=shared["state"])
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


def runtime(config: pytest.Config) -> Runtime:
    """The plugin state of this pytest process (for the plugin's own modules)."""
    return config.stash[RUNTIME]


def model_of(item: pytest.Item) -> str | None:
    """The ``model`` parameter of a test, if it has one."""
    callspec = getattr(item, "callspec", None)
    return callspec.params.get("model") if callspec else None

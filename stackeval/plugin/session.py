"""pytest plugin for how a session starts and ends: signals, bad input, progress.

- SIGTERM stops the session like Ctrl-C does (:mod:`stackeval.shutdown`), so the session end
  stops the stack and every record written so far stays; under pytest-xdist the controller
  passes the signal on to its workers, which own the stack.
- Options that cannot work fail at start with one line (``--sandbox nosuch``,
  ``--stack external`` without ``--models``).
- A bad data file (questions, coding tasks) fails collection with one line naming the file and
  line, instead of a traceback through pytest's parametrization.
- Progress of long operations (model pull, model load) is written to the real stderr, so it
  shows while pytest captures the output of the test that started them.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable, Generator

import psutil
import pytest

from stackeval import progress, shutdown
from stackeval.config import Settings
from stackeval.errors import ConfigError, StackEvalError
from stackeval.plugin.runtime import runtime
from stackeval.sandbox.choose import KINDS as SANDBOX_KINDS

RESTORE = pytest.StashKey[list[Callable[[], None]]]()
INTERRUPTS = pytest.StashKey[shutdown.Interrupts]()
STATUS = pytest.StashKey[int]()


def check_settings(settings: Settings) -> None:
    """Reject option combinations that would only fail once a test needs them."""
    if settings.sandbox not in SANDBOX_KINDS:
        raise ConfigError(f"--sandbox={settings.sandbox!r}: choose one of "
                          f"{', '.join(SANDBOX_KINDS)}")
    if settings.stack == "external" and not settings.models:
        raise ConfigError("--stack=external needs --models: the model names your endpoint serves")


def pytest_configure(config: pytest.Config) -> None:
    """Check the options, then install the SIGTERM handler and the progress writer."""
    try:
        check_settings(runtime(config).settings)
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from exc
    restore = config.stash[RESTORE] = []
    controller = getattr(config, "workerinput", None) is None
    interrupts = config.stash[INTERRUPTS] = shutdown.interrupt_on(
        (signal.SIGTERM,), _to_workers if controller and _uses_xdist(config) else None)
    restore.append(interrupts.restore)
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    terminal = config.pluginmanager.get_plugin("terminalreporter")
    line_width = ((lambda: terminal._tw.width_of_current_line) if terminal is not None
                  and controller else (lambda: 1))
    restore.append(_show_progress(f"[{worker}] " if worker else "", line_width))


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """The session is ending and the stack about to stop: a SIGTERM now must not cut that
    short. Remember the exit status, for an exit forced after SIGTERM."""
    interrupts = session.config.stash.get(INTERRUPTS, None)
    if interrupts is not None:
        interrupts.hold()
    session.config.stash[STATUS] = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """Put the previous signal handler and logging back; after SIGTERM, do not let a busy
    worker thread keep the process alive once everything is stopped and written."""
    for undo in reversed(config.stash.get(RESTORE, [])):
        undo()
    interrupts = config.stash.get(INTERRUPTS, None)
    if interrupts is not None:
        interrupts.exit_if_threads_linger(config.stash.get(STATUS, pytest.ExitCode.INTERRUPTED))


def _uses_xdist(config: pytest.Config) -> bool:
    return config.pluginmanager.has_plugin("dsession")


def _to_workers(signum: int) -> None:
    """Pass the signal on to the xdist workers (this process's children): they own the stack."""
    for child in psutil.Process().children():
        try:
            if child.environ().get("PYTEST_XDIST_WORKER"):
                child.send_signal(signum)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue


@pytest.hookimpl(wrapper=True)
def pytest_generate_tests(metafunc: pytest.Metafunc) -> Generator[None, None, None]:
    """A bad data file read while parametrizing becomes a one-line collection error."""
    try:
        return (yield)
    except StackEvalError as exc:
        # Collector.repr_failure prints a CollectError's message alone, without a traceback.
        raise pytest.Collector.CollectError(f"{type(exc).__name__}: {exc}") from exc


class _StderrLines(logging.Handler):
    """Writes each record as one line on a duplicate of the real stderr.

    pytest's capture swaps file descriptors 1 and 2 while a test (or its fixtures) runs; a
    descriptor duplicated at configure time, while capture is suspended, still reaches the
    terminal, from any thread.
    """

    def __init__(self, prefix: str, line_width: Callable[[], int]) -> None:
        super().__init__(logging.INFO)
        self.prefix = prefix
        self.line_width = line_width  # how much text pytest's progress line has on it now
        self._width_after_ours: int | None = None
        self.fd = os.dup(2)
        self._write_lock = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            with self._write_lock:
                # Break pytest's progress line, unless nothing was added to it since our last
                # line (which ended with a newline of its own).
                width = self.line_width()
                start = "\n" if width > 0 and width != self._width_after_ours else ""
                os.write(self.fd, f"{start}stackeval: {self.prefix}{record.getMessage()}\n"
                         .encode(errors="replace"))
                self._width_after_ours = width
        except Exception:  # noqa: BLE001 -- progress output must never fail the run
            self.handleError(record)

    def close(self) -> None:
        try:
            os.close(self.fd)
        except OSError:
            pass
        super().close()


def _show_progress(prefix: str, line_width: Callable[[], int]) -> Callable[[], None]:
    """Route :mod:`stackeval.progress` to the terminal for this session; returns the undo."""
    logger = progress.log
    handler = _StderrLines(prefix, line_width)
    before = (logger.level, logger.propagate)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False  # shown once, here, not again in every "Captured log" section

    def undo() -> None:
        logger.removeHandler(handler)
        handler.close()
        logger.level, logger.propagate = before

    return undo

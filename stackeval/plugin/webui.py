"""pytest plugin for the web UI evals: the ``webui`` and ``chat_page`` session fixtures.

``webui`` starts Open WebUI in front of the session's stack (installing its venv first, with a
progress message, when it is missing); ``chat_page`` is a signed-in headless Chromium page on it.
``--with-webui`` starts Open WebUI with every eval session, e.g. to browse it with --keep-stack.
Its options are :class:`stackeval.config.WebUISettings`, resolved with the rest.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from filelock import FileLock

from stackeval import store
from stackeval.config import WebUISettings
from stackeval.errors import StackEvalError
from stackeval.plugin.runtime import runtime
from stackeval.stack import webui as webui_service
from stackeval.stack.base import Stack
from stackeval.stack.webui import OpenWebUI
from stackeval.webui.browser import ChatPage
from stackeval.webui.report import format_latency_table, latency_table

log = logging.getLogger(__name__)


def _settings(config: pytest.Config) -> WebUISettings:
    return runtime(config).session.webui


@pytest.fixture(scope="session")
def webui_settings(pytestconfig: pytest.Config) -> WebUISettings:
    """The resolved web UI settings."""
    return _settings(pytestconfig)


def _ensure_installed(config: pytest.Config, venv: Path) -> None:
    """Install Open WebUI into its venv when missing, saying so on the terminal."""
    if webui_service.installed(venv):
        return
    reports = runtime(config).settings.reports_dir
    reports.mkdir(parents=True, exist_ok=True)
    with FileLock(str(reports / "webui-install.lock")):  # xdist: one installs, others wait
        if not webui_service.installed(venv):
            _install(config, venv)


def _install(config: pytest.Config, venv: Path) -> None:
    log_path = runtime(config).run_dir / "webui-install.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    tr = config.pluginmanager.get_plugin("terminalreporter")
    say = (lambda s: (tr.ensure_newline(), tr.write_line(s))) if tr else log.warning
    say(f"stackeval: Open WebUI is not installed in {venv}: installing open-webui=="
        f"{webui_service.OPEN_WEBUI_VERSION} (about 2-4 min, ~7 GB; log: {log_path}) ...")
    seconds = webui_service.install(venv, log_path)
    say(f"stackeval: Open WebUI installed in {seconds:.0f} s")


@pytest.fixture(scope="session")
def webui(pytestconfig: pytest.Config, stack: Stack) -> Iterator[OpenWebUI]:
    """Open WebUI started in front of the stack's gateway, with an admin signed up."""
    rt = runtime(pytestconfig)
    venv = Path(_settings(pytestconfig).webui_venv)
    models = rt.models or stack.models()
    # Under xdist each worker runs its own instance (the stack itself is shared).
    name = f"webui-{rt.worker}" if rt.worker else "webui"
    ui = OpenWebUI(rt.settings, stack.endpoint(models[0]), venv, name=name)
    try:
        _ensure_installed(pytestconfig, venv)
        ui.start()
    except StackEvalError as exc:
        pytest.fail(f"Open WebUI start failed: {exc}", pytrace=False)
    rt.writer.write_meta("webui", ui.describe())
    yield ui
    if rt.settings.keep_stack:
        log.warning("--keep-stack: Open WebUI stays up at %s (sign in as %s / %s)", ui.url,
                    ui.email, ui.password)
    else:
        ui.stop()


@pytest.fixture(scope="session")
def chat_page(pytestconfig: pytest.Config, webui: OpenWebUI) -> Iterator[ChatPage]:
    """A headless Chromium page signed in to Open WebUI as the admin."""
    rt = runtime(pytestconfig)
    page = ChatPage(webui.url, executable=Path(_settings(pytestconfig).chromium),
                    timeout_s=rt.settings.request_timeout)
    try:
        page.open()
        seconds = page.sign_in(webui.email, webui.password)
    except StackEvalError as exc:
        page.close()
        pytest.fail(f"browser sign-in failed: {exc}", pytrace=False)
    log.info("signed in to Open WebUI in %.1f s", seconds)
    yield page
    page.close()


@pytest.fixture(scope="session", autouse=True)
def _with_webui(request: pytest.FixtureRequest) -> None:
    """--with-webui: start Open WebUI with the session, whatever the tests ask for."""
    if _settings(request.config).with_webui:
        request.getfixturevalue("webui")


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:  # noqa: ANN001
    """The same question timed direct, via the gateway, via Open WebUI's API and in the browser."""
    if getattr(config, "workerinput", None) is not None:
        return
    rows = latency_table(store.read_records(runtime(config).run_dir, "webui"))
    if rows:
        terminalreporter.section("stackeval: web UI latency (median seconds)")
        for line in format_latency_table(rows):
            terminalreporter.write_line(line)

"""The stackeval pytest plugin, registered through the ``pytest11`` entry point ``stackeval``.

Thin over the library: options, markers, fixtures and hooks, in modules named for what they
hold; plugin state lives in ``config.stash``.

- :mod:`~stackeval.plugin.core`: options (from :mod:`stackeval.config`), markers, settings
  resolved once, model parametrization, test order
- :mod:`~stackeval.plugin.runtime`: the per-process state (stack, client, records)
- :mod:`~stackeval.plugin.fixtures`: what evals use (``stack``, ``asker``, ``answers``, ...)
- :mod:`~stackeval.plugin.perf`, :mod:`~stackeval.plugin.webui`: perf telemetry, Open WebUI
- :mod:`~stackeval.plugin.report`: Allure metadata and the CI gate at session end
- :mod:`~stackeval.plugin.attachments`: log tails and the Allure environment file
- :mod:`~stackeval.plugin.session`: signals, bad input, progress on the real stderr
- :mod:`~stackeval.plugin.terminal`: wrong answers, progress lines, summary tables

Disable it with ``-p no:stackeval``.
"""

from __future__ import annotations

import pytest

from stackeval.config import SessionSettings

pytest_plugins = [
    "stackeval.plugin.attachments",  # imported by the core: registered first, so pytest rewrites it
    "stackeval.plugin.core",
    "stackeval.plugin.fixtures",
    "stackeval.plugin.report",
    "stackeval.plugin.perf",
    "stackeval.plugin.webui",
    # Last, as when the core registered them at configure time: hooks of the same kind run
    # latest-registered first, which keeps the order of the terminal's sections.
    "stackeval.plugin.session",
    "stackeval.plugin.terminal",
]


def session_settings(config: pytest.Config) -> SessionSettings:
    """The session's resolved settings, for collection hooks that no fixture reaches
    (``pytest_generate_tests``); tests take the ``stackeval_settings`` fixture instead."""
    from stackeval.plugin.runtime import runtime

    return runtime(config).session

"""Registers the stackeval pytest plugin for this repository's evals and tests."""

pytest_plugins = ["stackeval.plugin", "stackeval.plugin_report", "stackeval.plugin_perf",
                  "stackeval.plugin_webui"]

"""Registers the stackeval pytest plugin for this repository's evals and tests."""

pytest_plugins = ["stackeval.plugin"]

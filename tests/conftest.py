"""Fixtures shared by the harness's own tests."""

from __future__ import annotations

import os

import pytest

from stackeval.errors import SandboxError
from stackeval.sandbox import BwrapSandbox, Sandbox


@pytest.fixture(scope="session")
def bwrap_sandbox() -> Sandbox:
    """The bubblewrap sandbox; in CI a missing tool is a broken setup, not a reason to skip."""
    sandbox = BwrapSandbox()
    try:
        sandbox.probe()
    except SandboxError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"bubblewrap is not usable in CI (.ci/run must install it): {exc}")
        pytest.skip(f"bubblewrap not usable here: {exc}")
    return sandbox

"""Sandboxes for untrusted, model-written code: Docker, bubblewrap, or (on request) none."""

from stackeval.sandbox.base import ExecResult, Limits, Sandbox
from stackeval.sandbox.bwrap import BwrapSandbox
from stackeval.sandbox.choose import choose_sandbox
from stackeval.sandbox.container import DockerSandbox
from stackeval.sandbox.local import UnsafeLocalSandbox

__all__ = [
    "BwrapSandbox",
    "DockerSandbox",
    "ExecResult",
    "Limits",
    "Sandbox",
    "UnsafeLocalSandbox",
    "choose_sandbox",
]

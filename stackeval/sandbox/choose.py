"""Picking the strongest sandbox that works on this host."""

from __future__ import annotations

import logging

from stackeval.errors import ConfigError, SandboxError
from stackeval.sandbox.base import Limits, Sandbox
from stackeval.sandbox.bwrap import BwrapSandbox
from stackeval.sandbox.container import DEFAULT_IMAGE, DockerSandbox
from stackeval.sandbox.local import UnsafeLocalSandbox

log = logging.getLogger(__name__)

KINDS = ("auto", "docker", "bwrap", "unsafe")
_HINT = "install bubblewrap (apt-get install bubblewrap) or start Docker, or pass --unsafe-exec"


def choose_sandbox(
    prefer: str = "auto",
    allow_unsafe: bool = False,
    *,
    limits: Limits | None = None,
    docker_image: str = DEFAULT_IMAGE,
) -> Sandbox:
    """Docker if an engine answers and has the image, else bwrap if it runs ``true``, else fail."""
    if prefer not in KINDS:
        raise ConfigError(f"unknown sandbox {prefer!r}; choose one of {', '.join(KINDS)}")
    if prefer == "unsafe":
        if not allow_unsafe:
            raise SandboxError(
                "the unsafe local sandbox runs model code on the host: pass --unsafe-exec"
            )
        return _warned(UnsafeLocalSandbox(limits))
    candidates: list[Sandbox] = []
    if prefer in ("auto", "docker"):
        candidates.append(DockerSandbox(limits, image=docker_image))
    if prefer in ("auto", "bwrap"):
        candidates.append(BwrapSandbox(limits))
    reasons = []
    for sandbox in candidates:
        try:
            sandbox.probe()
        except SandboxError as exc:
            log.info("sandbox %s not usable: %s", sandbox.name, exc)
            reasons.append(f"{sandbox.name}: {exc}")
            continue
        log.info("running model code in the %s sandbox", sandbox.name)
        return sandbox
    if allow_unsafe and prefer == "auto":
        return _warned(UnsafeLocalSandbox(limits))
    raise SandboxError(f"no sandbox for model code ({'; '.join(reasons)}): {_HINT}")


def _warned(sandbox: Sandbox) -> Sandbox:
    log.warning("model code runs UNSANDBOXED on this host (%s)", sandbox.name)
    return sandbox

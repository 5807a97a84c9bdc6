"""The embedded stack's programs, llama.cpp's server and the LiteLLM proxy, in a venv of their own.

Both run only as child processes (``llama_server.py`` and the ``litellm`` command) that the harness
talks to over HTTP, so neither belongs in the harness's own install: xllamacpp is ~100 MB, and
LiteLLM's proxy with prisma ~590 MB of packages with pins of their own. They install once, on the
first embedded start or by ``make setup``, into a venv under the cache directory, every package
pinned by ``runtime-lock.txt`` (the versions this harness is tested with). A file lock makes two
sessions that start at once share one install. Nothing in stackeval imports either package.

    python -m stackeval.stack.runtime install [--venv DIR] [--force]
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import logging
import shlex
import subprocess
import sys
import time
from pathlib import Path

from filelock import FileLock, Timeout

from stackeval import progress
from stackeval.errors import StackError
from stackeval.models.cache import default_cache_dir
from stackeval.stack.readiness import log_tail

log = logging.getLogger(__name__)

LITELLM_VERSION = "1.108.7"
PRISMA_VERSION = "0.15.0"
XLLAMACPP_VERSION = "2026.10.11549"
# prisma: LiteLLM's proxy imports it while answering a bad key; without it a 401 becomes a 500.
LITELLM_REQUIREMENTS = (f"litellm[proxy]=={LITELLM_VERSION}", f"prisma=={PRISMA_VERSION}")
XLLAMACPP_REQUIREMENTS = (f"xllamacpp=={XLLAMACPP_VERSION}",)
REQUIREMENTS = LITELLM_REQUIREMENTS + XLLAMACPP_REQUIREMENTS
LOCK_FILE = Path(__file__).with_name("runtime-lock.txt")  # every package of the venv, pinned
LLAMA_SERVER = Path(__file__).with_name("llama_server.py")  # runs with the venv's python


@functools.cache
def _digest() -> str:
    # Part of the venv's name: changed pins get a fresh venv, never a half-updated one.
    data = "\n".join(REQUIREMENTS).encode() + LOCK_FILE.read_bytes()
    return hashlib.sha256(data).hexdigest()[:12]


def default_venv() -> Path:
    """``<cache>/runtime/py3.11-<pins digest>``, cache: $STACKEVAL_CACHE or ~/.cache/stackeval."""
    py = f"py{sys.version_info.major}.{sys.version_info.minor}"
    return default_cache_dir() / "runtime" / f"{py}-{_digest()}"


def executable(name: str, venv: Path | None = None) -> Path:
    """A program in the venv's ``bin`` (``python``, ``litellm``)."""
    return (venv or default_venv()) / "bin" / name


def _stamp(venv: Path) -> Path:
    return venv / ".stackeval-installed"


def installed(venv: Path | None = None) -> bool:
    """True when the venv holds a finished install of the pinned packages."""
    venv = venv or default_venv()
    return _stamp(venv).exists() and executable("litellm", venv).exists()


def site_packages(venv: Path | None = None) -> Path | None:
    """The venv's site-packages folder, or None while it is not installed."""
    venv = venv or default_venv()
    if not installed(venv):
        return None
    found = sorted(venv.glob("lib/python*/site-packages"))
    return found[0] if found else None


def install_command(venv: Path) -> list[str]:
    """The pip command that fills the venv (shown in errors, for running it by hand)."""
    return [str(executable("python", venv)), "-m", "pip", "install", "--quiet",
            "--disable-pip-version-check", "-c", str(LOCK_FILE), *REQUIREMENTS]


def install_steps(venv: Path) -> list[list[str]]:
    """The commands that (re)create the venv and fill it."""
    return [[sys.executable, "-m", "venv", "--clear", str(venv)], install_command(venv)]


def install(venv: Path, log_path: Path) -> float:
    """Create the venv and pip-install the pinned packages; return the seconds it took."""
    started = time.perf_counter()
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as out:
        for argv in install_steps(venv):
            log.info("runtime setup: %s", shlex.join(argv))
            try:
                subprocess.run(argv, check=True, stdout=out, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL)
            except (OSError, subprocess.CalledProcessError) as exc:
                out.flush()
                raise StackError(
                    f"installing the embedded stack's runtime into {venv} failed: {exc}\n"
                    f"Command: {shlex.join(argv)}\nLog tail ({log_path}):\n{log_tail(log_path)}"
                ) from exc
    _stamp(venv).write_text("\n".join(REQUIREMENTS) + "\n")
    return time.perf_counter() - started


def ensure(venv: Path | None = None) -> Path:
    """The runtime venv, installed first when missing (once: concurrent sessions share a lock)."""
    venv = venv or default_venv()
    if installed(venv):
        return venv
    venv.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(venv.with_name(venv.name + ".lock")))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        progress.step("waiting for another session's install of the embedded stack's runtime "
                      "into %s", venv)
        lock.acquire()
    try:
        if installed(venv):  # the other session finished it while we waited
            return venv
        log_path = venv.with_name(venv.name + ".log")
        progress.step("installing the embedded stack's runtime (%s) into %s, once (~1-3 min; "
                      "log %s): %s", ", ".join(REQUIREMENTS), venv, log_path,
                      shlex.join(install_steps(venv)[-1]))
        took = install(venv, log_path)
        progress.step("runtime installed in %.0f s", took)
    finally:
        lock.release()
    return venv


def main(argv: list[str] | None = None) -> int:
    """``python -m stackeval.stack.runtime install``: set up the runtime venv now."""
    parser = argparse.ArgumentParser(prog="python -m stackeval.stack.runtime")
    parser.add_argument("command", choices=["install"])
    parser.add_argument("--venv", type=Path, default=None, help="default: " + str(default_venv()))
    parser.add_argument("--force", action="store_true", help="reinstall even if installed")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    venv = args.venv or default_venv()
    if args.force:
        _stamp(venv).unlink(missing_ok=True)
    if installed(venv):
        print(f"the embedded stack's runtime is installed in {venv}")
        return 0
    try:
        ensure(venv)
    except StackError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

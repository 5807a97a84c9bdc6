"""No isolation at all: a temp dir, a scrubbed environment and rlimits. Only on explicit request."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from stackeval.sandbox.base import (
    HARNESS_DIR,
    ExecResult,
    Files,
    Sandbox,
    remove_tree,
    write_files,
)
from stackeval.sandbox.process import PATH, prlimit_argv, run_process, tasks_of


class UnsafeLocalSandbox(Sandbox):
    """Runs untrusted code as the harness user on the host; it can reach the network and files.

    Nothing here is enforced against hostile code: /work is a host temp dir without a size limit,
    and the "read-only" harness dir is only chmod-ed, which its owner can undo. Arguments that
    start with ``/harness/`` are rewritten to that dir. Memory and process cleanup as in
    ``run_process`` (a cgroup where the host allows one).
    """

    name = "unsafe-local"

    def run(
        self,
        files: Files,
        argv: Sequence[str],
        *,
        timeout_s: float,
        stdin: bytes | None = None,
        harness: Files | None = None,
        keep_stdout: bool = False,
    ) -> ExecResult:
        """Run ``argv`` in a throwaway temp dir with only PATH, HOME and LANG set."""
        root = Path(tempfile.mkdtemp(prefix="stackeval-unsafe-"))
        work, tools = root / "work", root / "harness"
        try:
            write_files(work, files)
            for path in write_files(tools, harness or {}):
                path.chmod(path.stat().st_mode & 0o555)
            tools.chmod(0o555)
            argv = [
                str(tools) + arg[len(HARNESS_DIR) :] if arg.startswith(HARNESS_DIR + "/") else arg
                for arg in argv
            ]
            # root ignores RLIMIT_NPROC; for others it counts all of the user's tasks
            processes = tasks_of(os.getuid()) + self.limits.processes
            cmd = [*prlimit_argv(self.limits, cpu_s=timeout_s + 1, processes=processes), *argv]
            env = {"PATH": PATH, "HOME": str(work), "TMPDIR": str(work), "LANG": "C.UTF-8"}
            return run_process(
                cmd,
                cwd=work,
                env=env,
                stdin=stdin,
                timeout_s=timeout_s,
                limits=self.limits,
                keep_stdout=keep_stdout,
            )
        finally:
            remove_tree(root)

"""No isolation at all: a temp dir, a scrubbed environment and rlimits. Only on explicit request."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from stackeval.sandbox.base import ExecResult, Files, Sandbox, remove_tree, write_files
from stackeval.sandbox.process import PATH, prlimit_argv, run_process, tasks_of


class UnsafeLocalSandbox(Sandbox):
    """Runs untrusted code as the harness user on the host; it can reach the network and files."""

    name = "unsafe-local"

    def run(
        self,
        files: Files,
        argv: Sequence[str],
        *,
        timeout_s: float,
        stdin: bytes | None = None,
    ) -> ExecResult:
        """Run ``argv`` in a throwaway temp dir with only PATH, HOME and LANG set."""
        work = Path(tempfile.mkdtemp(prefix="stackeval-unsafe-"))
        try:
            write_files(work, files)
            # root ignores RLIMIT_NPROC; for others it counts all of the user's tasks
            processes = tasks_of(os.getuid()) + self.limits.processes
            cmd = [*prlimit_argv(self.limits, cpu_s=timeout_s + 1, processes=processes), *argv]
            env = {"PATH": PATH, "HOME": str(work), "TMPDIR": str(work), "LANG": "C.UTF-8"}
            return run_process(
                cmd, cwd=work, env=env, stdin=stdin, timeout_s=timeout_s, limits=self.limits
            )
        finally:
            remove_tree(work)

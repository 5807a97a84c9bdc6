"""Bubblewrap sandbox: namespaces, a read-only system, no network, rlimits, one uid per run.

/work, /tmp and /dev/shm are size-limited tmpfs mounts inside the sandbox (nothing the code writes
reaches the host's disk); the run's files are copied into /work by bwrap from file descriptors,
harness files are bound read-only at /harness. Memory and process cleanup: ``run_process``.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path

from stackeval.errors import SandboxError
from stackeval.sandbox.base import (
    HARNESS_DIR,
    ExecResult,
    Files,
    Limits,
    Sandbox,
    checked_path,
    remove_tree,
    write_files,
)
from stackeval.sandbox.process import PATH, prlimit_argv, run_process, tasks_of

INNER_ID = 65534  # "nobody" inside the sandbox
# Only what interpreters, coreutils and ImageMagick need from /etc: no passwd, shadow, ssl keys.
ETC_ENTRIES = tuple(
    "alternatives ld.so.cache ld.so.conf ld.so.conf.d localtime fonts ImageMagick-6 ImageMagick-7 "
    "ghostscript mime.types python3*".split()
)
# When the harness runs as root, each run gets its own host uid: RLIMIT_NPROC is counted per
# real uid, root is exempt from it, and a shared uid would let one run's fork bomb starve another.
_UID_BASE = 1_000_000
_uid_counter = itertools.count()
_uid_lock = threading.Lock()


class BwrapSandbox(Sandbox):
    """Runs commands under Debian's ``bwrap`` with a private /work, /tmp and network namespace."""

    name = "bwrap"

    def __init__(self, limits: Limits | None = None, *, bwrap: str = "bwrap") -> None:
        super().__init__(limits)
        self.bwrap = bwrap

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
        """Run ``argv`` in /work of a fresh bubblewrap sandbox."""
        bwrap = shutil.which(self.bwrap)
        if bwrap is None:
            raise SandboxError("bwrap not found: install bubblewrap (apt-get install bubblewrap)")
        root = Path(tempfile.mkdtemp(prefix="stackeval-bwrap-"))
        fds: list[int] = []
        try:
            # staged on the host only to be copied in: /work is a tmpfs inside the sandbox
            staged = dict(zip(files, write_files(root / "work", files), strict=True))
            write_files(root / "harness", harness or {})
            (root / "passwd").write_text(f"nobody:x:{INNER_ID}:{INNER_ID}:nobody:/tmp:/bin/sh\n")
            (root / "group").write_text(f"nogroup:x:{INNER_ID}:\n")
            copies: list[str] = []
            for name, path in staged.items():
                fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
                fds.append(fd)
                mode = path.stat().st_mode & 0o777  # as write_files set it
                copies += ["--perms", f"{mode:o}", "--file", str(fd), f"/work/{checked_path(name)}"]
            prefix, processes, uid = self._identity(root)
            cmd = [
                *prlimit_argv(self.limits, cpu_s=timeout_s + 1, processes=processes),
                *prefix,
                bwrap,
                *self._bwrap_args(root, copies, harness=bool(harness)),
                "--",
                *argv,
            ]
            return run_process(
                cmd,
                cwd=root,
                env=_host_env(),
                stdin=stdin,
                timeout_s=timeout_s,
                limits=self.limits,
                pass_fds=fds,
                keep_stdout=keep_stdout,
                run_uid=uid,
            )
        finally:
            for fd in fds:
                os.close(fd)
            remove_tree(root)

    def _identity(self, root: Path) -> tuple[list[str], int, int | None]:
        """The setpriv prefix (as root), the RLIMIT_NPROC value and the run's own uid, if any."""
        if os.geteuid() != 0:
            # the limit also counts the harness user's own tasks outside the sandbox
            return [], tasks_of(os.getuid()) + self.limits.processes, None
        with _uid_lock:
            uid = _UID_BASE + (os.getpid() % 10_000) * 100 + next(_uid_counter) % 100
        for path in [root, *root.rglob("*")]:
            os.chown(path, uid, uid, follow_symlinks=False)
        setpriv = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--"]
        return setpriv, self.limits.processes, uid

    def _bwrap_args(self, root: Path, copies: list[str], *, harness: bool) -> list[str]:
        args = (
            "--unshare-all --unshare-user --disable-userns --die-with-parent --new-session".split()
        )
        args += ["--ro-bind", "/usr", "/usr"]
        for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64"):
            if os.path.islink(top):  # merged /usr: keep the symlink
                args += ["--symlink", os.readlink(top), top]
            elif os.path.isdir(top):
                args += ["--ro-bind", top, top]
        for pattern in ETC_ENTRIES:
            for entry in sorted(glob.glob(f"/etc/{pattern}")):
                args += ["--ro-bind", entry, entry]
        # without its cache fontconfig rescans every font on each text render (~1 s)
        args += ["--ro-bind-try", "/var/cache/fontconfig", "/var/cache/fontconfig"]
        args += ["--ro-bind", str(root / "passwd"), "/etc/passwd"]
        args += ["--ro-bind", str(root / "group"), "/etc/group"]
        path = PATH
        if not os.path.exists("/usr/bin/python3"):  # fall back to the harness's interpreter
            prefix = os.path.realpath(sys.base_prefix)
            args += ["--ro-bind", prefix, prefix]
            path = f"{prefix}/bin:{PATH}"
        size = str(self.limits.tmpfs_mb * 1024 * 1024)
        args += "--proc /proc --dev /dev".split()
        # bwrap's /dev is an unlimited tmpfs: a limited /dev/shm on it, then /dev read-only
        args += ["--size", size, "--tmpfs", "/dev/shm", "--remount-ro", "/dev"]
        args += ["--size", size, "--tmpfs", "/tmp"]
        args += ["--size", size, "--tmpfs", "/work", *copies, "--chdir", "/work"]
        if harness:
            args += ["--ro-bind", str(root / "harness"), HARNESS_DIR]
        args += ["--clearenv", "--setenv", "PATH", path]
        args += "--setenv HOME /tmp --setenv TMPDIR /tmp --setenv LANG C.UTF-8".split()
        args += ["--uid", str(INNER_ID), "--gid", str(INNER_ID), "--hostname", "sandbox"]
        args += ["--remount-ro", "/"]  # last: the mount points above exist by now
        return args


def _host_env() -> dict[str, str]:
    """The environment bwrap itself starts with; ``--clearenv`` empties it for the command."""
    return {"PATH": os.environ.get("PATH", PATH), "LANG": "C.UTF-8"}

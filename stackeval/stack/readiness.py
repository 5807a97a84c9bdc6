"""Readiness waits: poll a URL until it answers, or fail naming URL, expectation and log tail."""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from stackeval.errors import StackNotReady


def log_tail(path: Path | None, lines: int = 30) -> str:
    """The last lines of a log file, or a note that there is none."""
    if path is None or not path.exists():
        return "(no log)"
    text = path.read_text(errors="replace").splitlines()
    return "\n".join(text[-lines:]) or "(log is empty)"


@dataclass(frozen=True)
class HttpWait:
    """Wait until ``url`` answers HTTP 200; fail early if the watched process exits."""

    url: str
    timeout_s: float = 180.0
    interval_s: float = 0.25
    what: str = "HTTP 200"
    hint: str = ""

    def wait(self, process: subprocess.Popen[bytes] | None = None, log: Path | None = None,
             command: str = "") -> float:
        """Block until ready; return the seconds it took."""
        start = time.perf_counter()
        deadline = start + self.timeout_s
        last = "no answer yet"
        with httpx.Client(timeout=5.0, trust_env=False) as client:
            while True:
                if process is not None and process.poll() is not None:
                    raise StackNotReady(self._message(
                        f"the process exited with code {process.returncode}", command, log))
                try:
                    resp = client.get(self.url)
                    if resp.status_code == 200:
                        return time.perf_counter() - start
                    last = f"HTTP {resp.status_code}"
                except httpx.TransportError as exc:
                    last = type(exc).__name__
                if time.perf_counter() > deadline:
                    raise StackNotReady(self._message(
                        f"timed out after {self.timeout_s:.0f} s (last: {last})", command, log))
                time.sleep(self.interval_s)

    def _message(self, why: str, command: str, log: Path | None) -> str:
        parts = [f"{self.url} never answered {self.what}: {why}."]
        if self.hint:
            parts.append(f"Hint: {self.hint}")
        if command:
            parts.append(f"Command: {command}")
        parts.append(f"Log tail ({log}):\n{log_tail(log)}")
        return "\n".join(parts)

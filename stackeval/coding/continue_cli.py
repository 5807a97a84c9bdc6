"""Coding asks through the real Continue CLI (``cn -p``), as a student's editor would send them.

Each ask runs ``cn`` headless in an empty temporary directory with a generated ``config.yaml``
(mode 600, deleted afterwards: it holds the gateway key, which never appears on a command line or
in a record). Tools that write files, run commands or reach the network are excluded by name; the
read-only ones Continue offers in chat stay, and every request is checked to offer nothing else.
``cn`` talks to a ``ContinueTap`` in front of the gateway, which measures what Continue sent and
when tokens came back; the answer is what ``cn`` printed, graded exactly like the direct path's.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stackeval.coding.continue_tap import ContinueTap, Exchange
from stackeval.config import FIXTURES_DIR
from stackeval.continue_config import continue_config, write_config
from stackeval.errors import ClientError, ConfigError, RequestTimeout, SandboxError
from stackeval.prompting import Asked
from stackeval.records import Completion, TokenSource
from stackeval.sampling import Sampling

ROOT = FIXTURES_DIR.parent
CN = ROOT / "node_modules" / ".bin" / "cn"
VALIDATOR = Path(__file__).with_name("validate_continue_config.mjs")
# Built-in tools of @continuedev/cli 1.5.47 (src/tools/builtInToolNames.ts) that write files, run
# commands, reach the network or start sub-agents. Plan mode (--readonly) is no help: it allows
# Bash.
EXCLUDED_TOOLS = ("Edit", "MultiEdit", "Write", "Bash", "CheckBackgroundJob", "Fetch",
                  "UploadArtifact", "Subagent", "Skills", "Checklist")
READ_ONLY_TOOLS = frozenset({"Read", "List", "Search", "Diff", "Status", "AskQuestion", "Exit",
                             "ReportFailure"})


@dataclass(frozen=True)
class ContinueAsked(Asked):
    """An ``Asked`` produced by ``cn``, plus what the tap saw of Continue's requests."""

    calls: tuple[dict[str, Any], ...] = field(default_factory=tuple)

    def client_record(self) -> dict[str, Any]:
        """The record fields only the Continue path has."""
        first = self.calls[0] if self.calls else {}
        return {"continue": {"cli": "@continuedev/cli", "calls": list(self.calls),
                             "first_prompt_tokens": first.get("prompt_tokens"),
                             "tools_offered": first.get("tools", [])}}


def check_installed(cn: Path = CN) -> Path:
    """The ``cn`` executable, or a one-line error saying how to install it."""
    if not cn.exists():
        raise ConfigError(f"--client=continue: {cn} is missing; run `npm ci` in {ROOT}")
    return cn


def validate_configs(paths: list[Path]) -> list[dict[str, Any]]:
    """Check config files with Continue's own schema package; one verdict dict per file."""
    node = shutil.which("node")
    if node is None:
        raise ConfigError("node is not on PATH: Continue configs cannot be validated")
    proc = subprocess.run([node, str(VALIDATOR), *map(str, paths)], cwd=ROOT, text=True,
                          capture_output=True, timeout=60, check=False)
    try:
        return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    except ValueError as exc:
        raise ConfigError(f"{VALIDATOR}: unreadable output ({proc.stderr[-300:]})") from exc


class ContinueAsker:
    """Asks a model through ``cn``; same ``ask`` signature and result shape as ``Asker``."""

    def __init__(self, asker: Any, cn: Path = CN) -> None:
        self.asker = asker  # the direct Asker: model loading and warm-up stay in one place
        self.stack = asker.stack
        self.settings = asker.settings
        self.cn = cn

    def ask(self, model: str, prompt: str, *, task: str = "coding", lang: str = "en",
            system: str | None = None, repeat: int = 0,
            max_tokens: int | None = None) -> ContinueAsked:
        """Run one headless ``cn`` session; ``system`` goes in as a Continue rule."""
        check_installed(self.cn)
        if self.stack.served(model).kind == "base":
            raise ConfigError(f"--client=continue: {model} is a base model; Continue chats")
        self.asker.prepare(model)
        endpoint = self.stack.endpoint(model)
        # Like the direct client's read timeout: cn is stopped only when nothing has passed
        # between it and the model for this long (a long answer may take minutes in all).
        timeout = self.settings.request_timeout
        with tempfile.TemporaryDirectory(prefix="stackeval-cn-") as tmp, \
                ContinueTap(endpoint.base_url, timeout) as tap:
            work, home = Path(tmp) / "work", Path(tmp) / "home"
            work.mkdir()
            home.mkdir(mode=0o700)
            config = self.config(tap.base_url, endpoint.api_key or "none", endpoint.model,
                                 system, max_tokens)
            path = write_config(home / "config.yaml", config)
            argv = [str(self.cn), "--config", str(path), "-p",
                    *(a for t in EXCLUDED_TOOLS for a in ("--exclude", t)), "--", prompt]
            env = {"PATH": os.environ.get("PATH", ""), "HOME": str(home),
                   "CONTINUE_GLOBAL_DIR": str(home / ".continue"),
                   "CONTINUE_METRICS_ENABLED": "0", "CONTINUE_CLI_ENABLE_TELEMETRY": "0",
                   "NO_COLOR": "1"}
            t0 = time.perf_counter()
            proc = _run_while_active(argv, work, env, tap, timeout, model)
            t1 = time.perf_counter()
            exchanges = list(tap.exchanges)
            secret = endpoint.api_key or "\0"
            if proc.returncode != 0:
                tail = (proc.stderr or proc.stdout)[-600:].replace(secret, "***")
                raise ClientError(f"cn for model {model!r} exited {proc.returncode}: {tail}")
        _check_tools(exchanges)
        completion = _combine(model, endpoint.describe() + " via Continue CLI", proc.stdout,
                              t0, t1, exchanges)
        shown = [a if a != prompt else "<prompt>" for a in argv[1:]]
        request = {"path": "cn", "argv": ["cn", *shown],
                   "config": _redacted(config), "prompt": prompt}
        return ContinueAsked(completion, "continue", prompt, request,
                             calls=tuple(_call(e) for e in exchanges))

    def config(self, base_url: str, api_key: str, model: str, system: str | None,
               max_tokens: int | None) -> dict[str, Any]:
        """The Continue config for one model, with the eval's sampling settings."""
        config = continue_config(base_url, api_key, [(model, "chat")])
        config["models"][0]["defaultCompletionOptions"] = Sampling(
            max_tokens or self.settings.coding_max_tokens, self.settings.temperature,
        ).continue_options()
        if system:
            config["rules"] = [system]
        return config


def _check_tools(exchanges: list[Exchange]) -> None:
    """Refuse an answer if Continue offered a tool that could write or run anything."""
    for ex in exchanges:
        bad = sorted(set(ex.tools) - READ_ONLY_TOOLS)
        if bad:
            raise SandboxError(f"Continue offered tools that are not read-only: {', '.join(bad)}"
                               " (a new @continuedev/cli version? update EXCLUDED_TOOLS)")


def _combine(model: str, where: str, stdout: str, t0: float, t1: float,
             exchanges: list[Exchange]) -> Completion:
    """One Completion for the whole session: E2E is the process, TTFT the first streamed token."""
    done = [e.completion for e in exchanges if e.completion is not None]
    firsts = [c.t_first_token for c in done if c.t_first_token is not None]
    prompts = [c.prompt_tokens for c in done]
    outputs = [c.output_tokens for c in done]
    usage = bool(done) and all(c.token_source is TokenSource.USAGE for c in done)
    return Completion(
        model=model, endpoint=where, text=stdout.strip(),
        finish_reason=done[-1].finish_reason if done else None,
        t_start=t0, t_first_token=min(firsts) if firsts else None,
        t_first_answer=min(firsts) if firsts else None, t_end=t1,
        chunk_times=tuple(sorted(t for c in done for t in c.chunk_times)),
        prompt_tokens=sum(prompts) if done and None not in prompts else None,  # type: ignore[arg-type]
        output_tokens=sum(outputs) if done and None not in outputs else None,  # type: ignore[arg-type]
        token_source=TokenSource.USAGE if usage else TokenSource.CHUNKS)


def _call(ex: Exchange) -> dict[str, Any]:
    """What a record keeps of one request Continue made (never headers)."""
    c = ex.completion
    messages = ex.body.get("messages") or []
    return {"path": ex.path, "status": ex.status, "messages": len(messages),
            "system_chars": sum(len(str(m.get("content") or "")) for m in messages
                                if isinstance(m, dict) and m.get("role") == "system"),
            "tools": list(ex.tools), "prompt_tokens": c.prompt_tokens if c else None,
            "output_tokens": c.output_tokens if c else None,
            "ttft_s": c.ttft_s if c else None, "e2e_s": c.e2e_s if c else None,
            "finish_reason": c.finish_reason if c else None}


def _redacted(config: dict[str, Any]) -> dict[str, Any]:
    return {**config, "models": [{**m, "apiKey": "***"} for m in config["models"]]}


def _run_while_active(argv: list[str], cwd: Path, env: dict[str, str], tap: ContinueTap,
                      idle_s: float, model: str) -> subprocess.CompletedProcess[str]:
    """Run cn to the end, killing it once ``idle_s`` pass with no traffic through the tap."""
    with subprocess.Popen(argv, cwd=cwd, env=env, text=True, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, stdin=subprocess.DEVNULL) as popen:
        tap.last_activity = time.monotonic()
        while True:
            try:
                out, err = popen.communicate(timeout=1.0)
                return subprocess.CompletedProcess(argv, popen.returncode, out, err)
            except subprocess.TimeoutExpired:
                if time.monotonic() - tap.last_activity > idle_s:
                    popen.kill()
                    popen.communicate()
                    raise RequestTimeout(f"cn for model {model!r}: nothing from the model for "
                                         f"{idle_s:.0f} s") from None

"""Run settings: one frozen object from pytest options, ini values or ``STACKEVAL_*`` env vars.

Each setting is declared once in ``OPTIONS``; the pytest plugin and the CLI both register them
from that table, so help text and defaults never drift apart.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from stackeval.errors import ConfigError

FIXTURES_DIR = Path(__file__).resolve().parent.parent / "fixtures"


@dataclass(frozen=True)
class Option:
    """One setting: its name, type, default and help text."""

    name: str  # attribute name; the flag is --name-with-dashes, the env var STACKEVAL_NAME
    default: Any
    help: str
    type: Callable[[str], Any] = str
    flag: bool = False  # a store_true switch
    many: bool = False  # may be given several times; the values are joined with ","

    @property
    def cli(self) -> str:
        """The command-line flag."""
        return "--" + self.name.replace("_", "-")

    @property
    def env(self) -> str:
        """The environment variable."""
        return "STACKEVAL_" + self.name.upper()


def _csv(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


OPTIONS: tuple[Option, ...] = (
    Option("stack", "embedded", "stack profile: embedded (local llama.cpp servers + LiteLLM "
           "gateway), compose (Docker) or external (endpoints you already run)"),
    Option("models", (), "comma-separated model names from fixtures/models.yaml or paths to .gguf "
           "files (default: the catalog's default chat models)", _csv),
    Option("base_url", None, "external profile: OpenAI-compatible base URL, e.g. "
           "http://127.0.0.1:3000/v1 (One-API) or http://127.0.0.1:11434/v1 (Ollama)"),
    Option("endpoint", (), "external profile, several endpoints: NAME=URL[?concurrency=N], "
           "comma-separated or repeated; --models entries NAME/model; each key from "
           "STACKEVAL_ENDPOINT_<NAME>_KEY (never logged)", _csv, many=True),
    Option("api_key", None, "API key for --base-url (external) or the gateway's key (embedded; "
           "default: a random key per run); never logged"),
    Option("cache_dir", None, "where pulled model files live (default $STACKEVAL_CACHE or "
           "~/.cache/stackeval)", Path),
    Option("reports_dir", Path("reports"), "where results, Allure results and logs are written",
           Path),
    Option("qa_dir", None, "Q&A question files: a directory of .yaml/.jsonl/.csv files or one "
           "file (default: fixtures/qa, unless only --qa-dataset is given)", Path),
    Option("qa_dataset", (), "standard benchmarks read from disk, comma-separated NAME:PATH"
           "[?shots=N&limit=N&subjects=a+b&split=S], NAME one of mmlu, ceval, cmmlu, gsm8k",
           _csv),
    Option("gateway_port", 0, "port of the embedded gateway on 127.0.0.1 (0: a free port; "
           "`stackeval serve` uses 4000)", int),
    Option("threads", 0, "llama.cpp threads per model server replica (0: auto = 1; more threads "
           "collapse when another process wants a core)", int),
    Option("parallel", 0, "request slots per model server replica (continuous batching; 0: auto "
           "= 4)", int),
    Option("replicas", 0, "model server processes per model, requests spread over them by the "
           "gateway (0: auto = usable cores / --max-loaded-models)", int),
    Option("ask_concurrency", 0, "Q&A and coding asks in flight per model (0: auto = replicas x "
           "slots on the embedded stack, 4 elsewhere; 1 = one at a time)", int),
    Option("ctx_size", 0, "context tokens per slot (0: the catalog's default for the model)", int),
    Option("max_loaded_models", 1, "at most this many model servers run at once; others start "
           "lazily and the least recently used is stopped", int),
    Option("temperature", 0.0, "sampling temperature for eval requests", float),
    Option("seed", 1234, "sampling seed for eval requests", int),
    Option("max_tokens", 256, "max output tokens per Q&A answer", int),
    Option("repeats", 1, "ask every question N times and report the pass rate", int),
    Option("loop_min_repeats", 3, "stop an answer whose tail repeats one unit of text this many "
           "times (digits ignored) ...", int),
    Option("loop_min_bytes", 200, "... over at least this many bytes of UTF-8 (coding: 4x); "
           "such an answer is graded as it is but never passes", int),
    Option("no_loop_stop", False, "never stop a looping answer early (perf runs never do)",
           flag=True),
    Option("judge_model", None, "optional LLM judge: a model name at --judge-url whose verdict "
           "on each Q&A answer is recorded beside the deterministic grade (never replaces it)"),
    Option("judge_url", None, "the judge's OpenAI-compatible base URL, e.g. "
           "http://127.0.0.1:8080/v1 (default: the run's own gateway); its key, if any, is read "
           "from STACKEVAL_JUDGE_API_KEY and never stored"),
    Option("resume", None, "continue an interrupted run (a run directory or 'latest'): answers "
           "already saved there are not asked again"),
    Option("request_timeout", 120.0, "seconds before one request is abandoned", float),
    Option("retries", 2, "retries for infrastructure errors (connect, 429, 5xx) only", int),
    Option("start_timeout", 180.0, "seconds to wait for the stack to become healthy", float),
    Option("keep_stack", False, "leave the stack running after the session", flag=True),
    Option("coding_suites", ("humaneval", "bashlab", "python"), "coding task suites to run "
           "(comma-separated: humaneval, bashlab, python)", _csv),
    Option("coding_dataset", (), "coding benchmarks read from disk, comma-separated NAME:PATH"
           "[?limit=N&split=S&shots=N&challenge=1], NAME: mbpp (mbpp.jsonl or "
           "sanitized-mbpp.json); given alone, it replaces the default --coding-suites", _csv),
    Option("coding_limit", 0, "run only the first N HumanEval problems (0: see "
           "--humaneval-sample)", int),
    Option("humaneval_sample", 40, "HumanEval problems in a fixed, seeded sample stratified by "
           "solution length (0: all 164)", int),
    Option("coding_max_tokens", 768, "max output tokens per coding answer", int),
    Option("samples", 1, "completions drawn per coding task; pass@1 and pass@k are reported", int),
    Option("client", "direct", "how coding tasks reach the model: direct (stackeval's own client) "
           "or continue (the real Continue CLI, `cn -p`, from `npm ci`)"),
    Option("sandbox", "auto", "where model-written code runs: auto (Docker if it answers, else "
           "bubblewrap), docker or bwrap"),
    Option("compose_file", (), "compose profile: compose files, comma-separated, merged in order "
           "(default stack/compose.yaml; CI images: stack/compose.ci.yaml)", _csv),
    Option("gpu", False, "compose profile: add stack/compose.gpu.yaml (NVIDIA GPUs for Ollama)",
           flag=True),
    Option("model_source", "pull", "compose profile: pull models from Ollama's registry, or "
           "import the catalog's GGUF files (offline GPU servers)"),
    Option("compose_profiles", (), "compose profile: compose profiles to enable, e.g. vllm",
           _csv),
    Option("unsafe_exec", False, "allow running model-written code on the bare host when no "
           "sandbox is available (never the default)", flag=True),
)


@dataclass(frozen=True)
class Settings:
    """Everything a run needs to know, resolved once at session start."""

    stack: str = "embedded"
    models: tuple[str, ...] = ()
    base_url: str | None = None
    endpoint: tuple[str, ...] = ()
    api_key: str | None = field(default=None, repr=False)
    cache_dir: Path | None = None
    reports_dir: Path = Path("reports")
    qa_dir: Path | None = None
    qa_dataset: tuple[str, ...] = ()
    gateway_port: int = 0
    threads: int = 0
    parallel: int = 0
    replicas: int = 0
    ask_concurrency: int = 0
    ctx_size: int = 0
    max_loaded_models: int = 1
    temperature: float = 0.0
    seed: int = 1234
    max_tokens: int = 256
    repeats: int = 1
    loop_min_repeats: int = 3
    loop_min_bytes: int = 200
    no_loop_stop: bool = False
    judge_model: str | None = None
    judge_url: str | None = None
    resume: str | None = None
    request_timeout: float = 120.0
    retries: int = 2
    start_timeout: float = 180.0
    keep_stack: bool = False
    coding_suites: tuple[str, ...] = ("humaneval", "bashlab", "python")
    coding_dataset: tuple[str, ...] = ()
    coding_limit: int = 0
    humaneval_sample: int = 40
    coding_max_tokens: int = 768
    samples: int = 1
    client: str = "direct"
    sandbox: str = "auto"
    unsafe_exec: bool = False
    compose_file: tuple[str, ...] = ()
    gpu: bool = False
    model_source: str = "pull"
    compose_profiles: tuple[str, ...] = ()
    run_id: str = field(default_factory=lambda: new_run_id())

    def __post_init__(self) -> None:
        if self.stack not in ("embedded", "compose", "external"):
            raise ConfigError(f"--stack={self.stack!r}: choose embedded, compose or external")
        if self.stack == "external" and not self.base_url and not self.endpoint:
            raise ConfigError("--stack=external needs --base-url (and usually --api-key) or "
                              "--endpoint NAME=URL")
        if self.endpoint and (self.stack != "external" or self.base_url):
            raise ConfigError("--endpoint needs --stack=external and replaces --base-url "
                              "(give one or the other)")
        if self.client not in ("direct", "continue"):
            raise ConfigError(f"--client={self.client!r}: choose direct or continue")
        if self.model_source not in ("pull", "import"):
            raise ConfigError(f"--model-source={self.model_source!r}: choose pull or import")
        for name in ("max_loaded_models", "repeats", "max_tokens", "samples",
                     "coding_max_tokens", "loop_min_repeats", "loop_min_bytes"):
            if getattr(self, name) < 1:
                raise ConfigError(f"--{name.replace('_', '-')} must be at least 1")
        for name in ("threads", "parallel", "replicas", "ask_concurrency", "coding_limit",
                     "humaneval_sample"):
            if getattr(self, name) < 0:
                raise ConfigError(f"--{name.replace('_', '-')} cannot be negative (0: auto)")

    @classmethod
    def resolve(cls, get: Callable[[Option], Any], **extra: Any) -> Settings:
        """Build settings; ``get(option)`` returns the CLI/ini value or None when unset."""
        values = resolve_values(OPTIONS, get)
        known = {f.name for f in fields(cls)}
        values.update({k: v for k, v in extra.items() if k in known and v is not None})
        return cls(**values)


def resolve_values(options: tuple[Option, ...], get: Callable[[Option], Any]) -> dict[str, Any]:
    """Each option's value from ``get`` (CLI, then ini), else ``STACKEVAL_*``; unset ones left out.

    Strings are converted with the option's type; a bad value names the flag.
    """
    values: dict[str, Any] = {}
    for opt in options:
        value = get(opt)
        if isinstance(value, list):  # a ``many`` option given several times
            value = ",".join(value)
        if value in (None, "", ()) and opt.env in os.environ:
            value = os.environ[opt.env]
        if value in (None, "", ()):
            continue
        if isinstance(value, str) and opt.type is not str:
            try:
                value = (value.lower() in ("1", "true", "yes")) if opt.flag else opt.type(value)
            except ValueError as exc:
                raise ConfigError(f"{opt.cli}: cannot read {value!r} ({exc})") from exc
        values[opt.name] = value
    return values


def usable_cores() -> int:
    """CPUs this process may run on (the affinity mask, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def new_run_id() -> str:
    """A sortable, unique run id: UTC time plus a short random suffix."""
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(3)

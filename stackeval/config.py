"""Settings: one tree of frozen dataclasses whose fields declare their own option.

A field made by :func:`setting` carries its help text, default, command-line flag
(``--name-with-dashes``), ini key (``stackeval_name``) and environment variable
(``STACKEVAL_NAME``); the machinery is in :mod:`stackeval.options`. The groups:

- :class:`StackSettings`: which stack serves the models and how
- :class:`RunSettings`: what a run asks, where it writes, how long it waits
- :class:`SamplingSettings`: what every eval request asks the model for
- :class:`CodingSettings`: coding suites, samples and where their code runs
- :class:`Settings`: the four above as one flat object, the one the library takes (a function
  that needs one group may type its parameter with that group)
- :class:`PerfSettings`, :class:`WebUISettings`, :class:`GateSettings`: perf runs, the web UI
  evals and the CI gate
- :class:`SessionSettings`: all of them, resolved once per session

:func:`stackeval.options.resolve` is the one resolver (flag, then ini key, then environment,
then default); the pytest plugin and the ``stackeval`` CLI both call it.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stackeval.errors import ConfigError
from stackeval.options import Option, floats, ints, resolve, setting

if TYPE_CHECKING:
    from stackeval.perf.stats import SLO

FIXTURES_DIR = Path(__file__).resolve().parent.parent / "fixtures"


@dataclass(frozen=True)
class StackSettings:
    """Which stack serves the models, and how."""

    stack: str = setting("embedded", "stack profile: embedded (local llama.cpp servers + "
                         "LiteLLM gateway), compose (Docker) or external (endpoints you already "
                         "run)")
    models: tuple[str, ...] = setting((), "comma-separated model names from "
                                      "stackeval/models/catalog.yaml or paths to .gguf files",
                                      shown="the catalog's default chat models")
    base_url: str | None = setting(None, "external profile: OpenAI-compatible base URL, e.g. "
                                   "http://127.0.0.1:3000/v1 (One-API) or "
                                   "http://127.0.0.1:11434/v1 (Ollama)")
    endpoint: tuple[str, ...] = setting((), "external profile, several endpoints: "
                                        "NAME=URL[?concurrency=N], comma-separated or repeated; "
                                        "--models entries NAME/model; each key from "
                                        "STACKEVAL_ENDPOINT_<NAME>_KEY (never logged)", many=True)
    api_key: str | None = setting(None, "API key for --base-url (external) or the gateway's key "
                                  "(embedded); never logged", shown="a random gateway key per "
                                  "run", repr=False)
    cache_dir: Path | None = setting(None, "where pulled model files live", parse=Path,
                                     shown="$STACKEVAL_CACHE or ~/.cache/stackeval")
    gateway_port: int = setting(0, "port of the embedded gateway on 127.0.0.1 (0: a free port; "
                                "`stackeval serve` uses 4000)")
    threads: int = setting(0, "llama.cpp threads per model server replica (0: auto = 1; more "
                           "threads collapse when another process wants a core)")
    parallel: int = setting(0, "request slots per model server replica (continuous batching; "
                            "0: auto = 4)")
    replicas: int = setting(0, "model server processes per model, requests spread over them by "
                            "the gateway (0: auto = usable cores / --max-loaded-models)")
    ctx_size: int = setting(0, "context tokens per slot (0: the catalog's default for the model)")
    max_loaded_models: int = setting(1, "at most this many model servers run at once; others "
                                     "start lazily and the least recently used is stopped")
    start_timeout: float = setting(180.0, "seconds to wait for the stack to become healthy")
    keep_stack: bool = setting(False, "leave the stack running after the session")
    compose_file: tuple[str, ...] = setting((), "compose profile: compose files, comma-separated, "
                                            "merged in order (CI images: stack/compose.ci.yaml)",
                                            shown="stack/compose.yaml")
    gpu: bool = setting(False, "compose profile: add stack/compose.gpu.yaml (NVIDIA GPUs for "
                        "Ollama)")
    model_source: str = setting("pull", "compose profile: pull models from Ollama's registry, or "
                                "import the catalog's GGUF files (offline GPU servers)")
    compose_profiles: tuple[str, ...] = setting((), "compose profile: compose profiles to "
                                                "enable, e.g. vllm", shown="none")


@dataclass(frozen=True)
class RunSettings:
    """What a run asks, where it writes, and how long it waits."""

    reports_dir: Path = setting(Path("reports"), "where results, Allure results and logs are "
                                "written")
    qa_dir: Path | None = setting(None, "Q&A question files: a directory of .yaml/.jsonl/.csv "
                                  "files or one file", parse=Path,
                                  shown="fixtures/qa, unless only --qa-dataset is given")
    qa_dataset: tuple[str, ...] = setting((), "standard benchmarks read from disk, "
                                          "comma-separated NAME:PATH[?shots=N&limit=N&subjects="
                                          "a+b&split=S], NAME one of mmlu, ceval, cmmlu, gsm8k",
                                          shown="none")
    ask_concurrency: int = setting(0, "Q&A and coding asks in flight per model (0: auto = "
                                   "replicas x slots on the embedded stack, 4 elsewhere; 1 = one "
                                   "at a time)")
    repeats: int = setting(1, "ask every question N times and report the pass rate")
    judge_model: str | None = setting(None, "optional LLM judge: a model name at --judge-url "
                                      "whose verdict on each Q&A answer is recorded beside the "
                                      "deterministic grade (never replaces it)", shown="no judge")
    judge_url: str | None = setting(None, "the judge's OpenAI-compatible base URL, e.g. "
                                    "http://127.0.0.1:8080/v1; its key, if any, is read from "
                                    "STACKEVAL_JUDGE_API_KEY and never stored",
                                    shown="the run's own gateway")
    resume: str | None = setting(None, "continue an interrupted run (a run directory or "
                                 "'latest'): answers already saved there are not asked again",
                                 shown="a new run")
    request_timeout: float = setting(120.0, "seconds before one request is abandoned")
    retries: int = setting(2, "retries for infrastructure errors (connect, 429, 5xx) only")
    run_id: str = field(default_factory=lambda: new_run_id())


@dataclass(frozen=True)
class SamplingSettings:
    """What every eval request asks the model for."""

    temperature: float = setting(0.0, "sampling temperature for eval requests")
    seed: int = setting(1234, "sampling seed for eval requests")
    max_tokens: int = setting(256, "max output tokens per Q&A answer")
    loop_min_repeats: int = setting(3, "stop an answer whose tail repeats one unit of text this "
                                    "many times (digits ignored) ...")
    loop_min_bytes: int = setting(200, "... over at least this many bytes of UTF-8 (coding: 4x); "
                                  "such an answer is graded as it is but never passes")
    no_loop_stop: bool = setting(False, "never stop a looping answer early (perf runs never do)")


@dataclass(frozen=True)
class CodingSettings:
    """Coding suites, samples, and where model-written code runs."""

    coding_suites: tuple[str, ...] = setting(("humaneval", "bashlab", "python"), "coding task "
                                             "suites to run (comma-separated: humaneval, "
                                             "bashlab, python)")
    coding_dataset: tuple[str, ...] = setting((), "coding benchmarks read from disk, "
                                              "comma-separated NAME:PATH[?limit=N&split=S&"
                                              "shots=N&challenge=1], NAME: mbpp (mbpp.jsonl or "
                                              "sanitized-mbpp.json); given alone, it replaces "
                                              "the default --coding-suites", shown="none")
    coding_langs: tuple[str, ...] = setting(("zh", "en"), "languages a coding task written in "
                                            "several is asked in (the bash lab: zh, en; a task in "
                                            "one language, like HumanEval, is asked in it)")
    coding_limit: int = setting(0, "run only the first N HumanEval problems (0: see "
                                "--humaneval-sample)")
    humaneval_sample: int = setting(40, "HumanEval problems in a fixed, seeded sample stratified "
                                    "by solution length (0: all 164)")
    coding_max_tokens: int = setting(768, "max output tokens per coding answer")
    samples: int = setting(1, "completions drawn per coding task; pass@1 and pass@k are reported")
    client: str = setting("direct", "how coding tasks reach the model: direct (stackeval's own "
                          "client) or continue (the real Continue CLI, `cn -p`, from `npm ci`)")
    sandbox: str = setting("auto", "where model-written code runs: auto (Docker if it answers, "
                           "else bubblewrap), docker or bwrap")
    unsafe_exec: bool = setting(False, "allow running model-written code on the bare host when "
                                "no sandbox is available (never the default)")


@dataclass(frozen=True)
class Settings(CodingSettings, SamplingSettings, RunSettings, StackSettings):
    """Everything a run needs to know, resolved once at session start (one flat object)."""

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
        if not self.coding_langs or set(self.coding_langs) - {"zh", "en"}:
            raise ConfigError(f"--coding-langs={','.join(self.coding_langs)!r}: choose zh, en "
                              "or zh,en")
        if self.model_source not in ("pull", "import"):
            raise ConfigError(f"--model-source={self.model_source!r}: choose pull or import")
        _at_least(self, 1, "max_loaded_models", "repeats", "max_tokens", "samples",
                  "coding_max_tokens", "loop_min_repeats", "loop_min_bytes")
        for name in ("threads", "parallel", "replicas", "ask_concurrency", "coding_limit",
                     "humaneval_sample"):
            if getattr(self, name) < 0:
                raise ConfigError(f"--{name.replace('_', '-')} cannot be negative (0: auto)")


def _at_least(obj: Any, low: int, *names: str) -> None:
    for name in names:
        if getattr(obj, name) < low:
            raise ConfigError(f"--{name.replace('_', '-')} must be at least {low}")


@dataclass(frozen=True)
class PerfSettings:
    """What a perf run needs beyond the run settings."""

    concurrency: tuple[int, ...] = setting((1, 2, 4, 8), "perf sweep: concurrent streams per "
                                           "level, comma-separated", parse=ints)
    perf_requests: int = setting(8, "perf: measured requests per scenario and per concurrency "
                                 "level")
    perf_warmup: int = setting(1, "perf: untimed warm-up rounds before each measured "
                               "scenario/level")
    perf_max_tokens: int = setting(64, "perf: output tokens per request, fixed (ignore_eos + "
                                   "min_tokens where the server supports them)")
    slo_ttft_ms: float = setting(1000.0, "perf goodput: time-to-first-token objective in ms")
    slo_tpot_ms: float = setting(50.0, "perf goodput: time-per-output-token objective in ms")
    rates: tuple[float, ...] = setting((), "perf open-loop sweep: request rates (req/s), "
                                       "comma-separated; the knee is the highest meeting the "
                                       "SLOs", parse=floats, shown="no rate sweep")
    arrival: str = setting("poisson", "perf open-loop arrivals: poisson (exponential gaps) or "
                           "constant (evenly spaced)")
    rate_requests: int = setting(24, "perf open-loop: requests sent at each rate")
    slo_percentile: float = setting(90.0, "perf knee: the TTFT and TPOT percentile that must "
                                    "meet the SLOs")
    knee_refine: int = setting(2, "perf knee: bisection steps between the last rate that met "
                               "the SLOs and the first that did not")
    telemetry_rate: float = setting(10.0, "telemetry samples per second around perf/qa/coding "
                                    "tests (0 turns telemetry off)")

    def __post_init__(self) -> None:
        if not self.concurrency or min(self.concurrency) < 1:
            raise ConfigError(f"--concurrency={self.concurrency!r}: give levels >= 1, e.g. 1,2,4,8")
        _at_least(self, 1, "perf_requests", "perf_max_tokens")
        if self.perf_warmup < 0 or self.telemetry_rate < 0:
            raise ConfigError("--perf-warmup and --telemetry-rate cannot be negative")
        if any(r <= 0 for r in self.rates):
            raise ConfigError(f"--rates={self.rates!r}: give request rates above 0, e.g. 0.5,1,2")
        if self.arrival not in ("poisson", "constant"):
            raise ConfigError(f"--arrival={self.arrival!r}: choose poisson or constant")
        if self.rate_requests < 2 or self.knee_refine < 0:
            raise ConfigError("--rate-requests must be at least 2, --knee-refine at least 0")
        if not 0 < self.slo_percentile <= 100:
            raise ConfigError("--slo-percentile must be within (0, 100]")

    @property
    def slo(self) -> SLO:
        """The goodput objectives."""
        from stackeval.perf.stats import SLO

        return SLO(ttft_ms=self.slo_ttft_ms, tpot_ms=self.slo_tpot_ms)


@dataclass(frozen=True)
class WebUISettings:
    """The web UI evals: where Open WebUI and Chromium are, which questions go through it."""

    with_webui: bool = setting(False, "start Open WebUI with the stack in every eval session "
                               "(web UI evals start it anyway)")
    webui_venv: Path = setting(Path(".venv-webui"), "the venv holding the pinned Open WebUI; "
                               "created (about 2-4 min, ~7 GB) when missing")
    chromium: Path = setting(Path("/usr/bin/chromium"), "the Chromium the browser tests drive "
                             "(Debian's package; never a downloaded one)")
    webui_cases: tuple[str, ...] = setting((), "comma-separated question ids asked through Open "
                                           "WebUI's API, both languages each (the timing and "
                                           "browser tests use one question)", shown="all")


@dataclass(frozen=True)
class GateSettings:
    """The CI gate: minimums a model's results must reach (unset: no gate)."""

    min_accuracy: str | None = setting(None, "fail the session if a model's Q&A accuracy (passed "
                                       "/ graded attempts) is below this, e.g. 0.6 or 60%%",
                                       shown="no gate", metavar="FRACTION")
    min_pass_at_1: str | None = setting(None, "fail the session if a model's coding pass@1 is "
                                        "below this, e.g. 0.3 or 30%%", shown="no gate",
                                        metavar="FRACTION")


@dataclass(frozen=True)
class SessionSettings:
    """Every group, resolved once per pytest session."""

    run: Settings
    perf: PerfSettings
    webui: WebUISettings
    gate: GateSettings

    GROUPS = (Settings, GateSettings, PerfSettings, WebUISettings)  # in --help order

    @classmethod
    def resolve(cls, get: Callable[[Option], Any], **extra: Any) -> SessionSettings:
        """Resolve every group with :func:`resolve`; ``extra`` goes to the run settings."""
        return cls(resolve(Settings, get, **extra), resolve(PerfSettings, get),
                   resolve(WebUISettings, get), resolve(GateSettings, get))


def usable_cores() -> int:
    """CPUs this process may run on (the affinity mask, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def new_run_id() -> str:
    """A sortable, unique run id: UTC time plus a short random suffix."""
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(3)

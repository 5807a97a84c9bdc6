"""The report's layout: sections of paragraphs, tables and figures, shared by Markdown and HTML.

Missing data is written as "not run" (the suite produced no records for the model) or "–" (the
figure was not measured), never as 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stackeval import store
from stackeval.report.blocks import (
    DASH,
    NOT_RUN,
    Block,
    Bullets,
    Figure,
    Paragraph,
    Section,
    Table,
    money,
    num,
    pct,
    rate,
)
from stackeval.report.blocks import cells as _rows
from stackeval.report.blocks import spread as _spread
from stackeval.report.charts import Chart
from stackeval.report.clients import clients_section
from stackeval.report.comparison import Report
from stackeval.report.findings import findings
from stackeval.report.paired import paired_section
from stackeval.report.partial import partial_blocks
from stackeval.report.stats import SUITE_TITLES, SUITES, UNGRADED

# Chinese names of the Q&A categories (fixtures/qa), for the bilingual tables.
try:
    from stackeval.qa import CATEGORIES as CATEGORY_ZH
except ImportError:  # pragma: no cover - the Q&A loader is optional for rendering
    CATEGORY_ZH = {}


def _suites_of(report: Report, model: str) -> list[str]:
    """The suites a model ran, plus ``all`` when there are several (or none, to say so)."""
    ran = [s for s in SUITES if report.speed_of(model, s) is not None]
    return ran + ["all"] if len(ran) != 1 else ran


# -- sections -----------------------------------------------------------------------------------


def setup_section(report: Report) -> Section:
    """Stack, models (with file digests), host and settings."""
    env = report.environment
    stack = env.get("stack") or {}
    settings = env.get("settings") or {}
    blocks: list[Block] = []
    if not env:
        blocks.append(Paragraph("environment.json is missing from the run directory: the stack "
                                "never started, so endpoints and served files are unknown."))
    servers = stack.get("servers") or {}
    stack_rows = [
        ("profile", stack.get("profile") or settings.get("stack") or DASH),
        ("gateway endpoint", stack.get("gateway") or settings.get("base_url") or DASH),
        *((f"server for {m}", ", ".join(url if isinstance(url, list) else [url]))
          for m, url in servers.items()),
        ("inference server", stack.get("server_version") or DASH),
        ("gateway", stack.get("gateway_version") or DASH),
        ("replicas x slots, threads each",
         f"{stack.get('replicas', 1)} x {stack.get('parallel', settings.get('parallel', DASH))}"
         f", {stack.get('threads', settings.get('threads', DASH))}"),
        ("temperature / seed / max_tokens", f"{settings.get('temperature', DASH)} / "
                                            f"{settings.get('seed', DASH)} / "
                                            f"{settings.get('max_tokens', DASH)}"),
        ("repeats", settings.get("repeats", DASH)),
    ]
    blocks.append(Table(("stack", "value"), _rows(stack_rows),
                        "Endpoints are listed without keys."))
    model_rows = []
    for m in report.models:
        s = report.setups.get(m)
        ran = [SUITE_TITLES[x] for x in SUITES if m in report.ran.get(x, ())]
        model_rows.append((
            m, (s.kind if s else None) or DASH, (s.architecture if s else None) or DASH,
            (s.quantization if s else None) or DASH,
            DASH if not s or not s.size_bytes else f"{s.size_bytes / 1e6:.0f} MB",
            DASH if not s or not s.context_size else s.context_size,
            (s.sha256[:16] + "…") if s and s.sha256 else DASH,
            (s.file.rsplit("/", 1)[-1] if s and s.file else DASH),
            ", ".join(ran) or NOT_RUN))
    blocks.append(Table(("model", "kind", "arch", "quant", "size", "ctx", "sha256", "file",
                         "suites run"), _rows(model_rows)))
    host = report.hardware.get("host") or {}
    gpus = report.hardware.get("gpus")
    host_rows = [
        ("CPU", host.get("cpu_model") or env.get("platform") or DASH),
        ("cores / threads", f"{host.get('cpu_cores', DASH)} / "
                            f"{host.get('cpu_threads', env.get('cpu_count', DASH))}"),
        ("RAM", f"{host['ram_total_gib']} GiB" if host.get("ram_total_gib") else DASH),
        ("OS", host.get("os") or env.get("platform") or DASH),
        ("Python", host.get("python") or env.get("python") or DASH),
    ]
    if gpus:
        host_rows += [(f"GPU {g.get('index', i)}", f"{g.get('name', '?')}, "
                       f"{num(g.get('memory_total_mib'), 0)} MiB, driver "
                       f"{g.get('driver_version', '?')}, CUDA {g.get('cuda_version', '?')}")
                      for i, g in enumerate(gpus)]
    else:
        host_rows.append(("GPU", "none detected (CPU inference)" if gpus == [] else
                          "not recorded"))
    blocks.append(Table(("host", "value"), _rows(host_rows)))
    return Section("Setup", "实验环境", tuple(blocks))


def _agreement(agreement: Mapping[str, Any]) -> list[Block]:
    """How far to trust the accuracies: the graders against the hand-labelled answers."""
    overall = agreement.get("overall")
    if not overall:
        return []
    families = "; ".join(
        f"{name} {f['agreement']:.1%} of {f['n']}"
        for name, f in (agreement.get("by_family") or {}).items())
    kappa = overall.get("kappa")
    kappa_text = "n/a" if kappa is None else f"{kappa:.2f}"
    return [Paragraph(
        f"The graders that graded this run agree with {overall['n']} hand-labelled answers "
        f"(fixtures/calibration) on {overall['agreement']:.1%} (Cohen's κ {kappa_text}; "
        f"{overall['false_pass']} false passes, {overall['false_fail']} false fails; "
        f"{families}). The labels were also used to tune the graders, so unseen answers agree "
        "somewhat less often.")]


def qa_section(report: Report, charts: Mapping[str, Chart]) -> Section:
    """Accuracy overall, per category and per language."""
    if not report.suite_ran("qa"):
        return Section("Q&A accuracy", "问答准确率",
                       (Paragraph("Not run: this run has no Q&A records."),))
    overall = []
    for m in report.models:
        s = report.qa.get(m)
        if s is None:
            overall.append((m, NOT_RUN, *([DASH] * 7)))
            continue
        o = s.outcomes
        overall.append((m, s.prompt_format, s.attempts, rate(s.overall), o.get("wrong_answer", 0),
                        o.get("truncated", 0), o.get("repetition_loop", 0),
                        o.get("context_overflow", 0),
                        sum(n for k, n in o.items() if k in UNGRADED)))
    blocks: list[Block] = [Table(
        ("model", "prompt", "attempts", "accuracy", "wrong", "truncated", "loops stopped",
         "ctx overflow", "harness errors"), _rows(overall),
        "Accuracy = passed / graded attempts (Wilson 95% interval after the counts; with "
        "--repeats above 1 attempts of one question are not independent and the interval is "
        "too narrow); harness errors (timeouts, server errors, grader errors) are counted apart "
        "and left out of the denominator.")]
    blocks += _agreement(report.grader_agreement)
    if report.judge_disagreements:
        per_model = "; ".join(f"{m} disagrees on {k} of {n} answers"
                              for m, (n, k) in report.judge_disagreements.items())
        blocks.append(Paragraph(f"LLM judge (--judge-model) against the deterministic graders: "
                                f"{per_model}. Each record's \"judge\" field has its verdict "
                                "and reason."))
    cats = sorted({c for s in report.qa.values() for c in s.by_category})
    blocks.append(Table(
        ("model", *(f"{c} {CATEGORY_ZH.get(c, '')}".strip() for c in cats)),
        _rows((m, *(rate(report.qa[m].by_category.get(c)) if m in report.qa else NOT_RUN
                    for c in cats)) for m in report.models),
        "Accuracy by category."))
    langs = sorted({lang for s in report.qa.values() for lang in s.by_lang})
    blocks.append(Table(
        ("model", *langs),
        _rows((m, *(rate(report.qa[m].by_lang.get(lang)) if m in report.qa else NOT_RUN
                    for lang in langs)) for m in report.models),
        "Accuracy by question language (zh: Chinese, en: English)."))
    if "accuracy_by_category" in charts:
        blocks.append(Figure(charts["accuracy_by_category"]))
    return Section("Q&A accuracy", "问答准确率", tuple(blocks))


def coding_section(report: Report, charts: Mapping[str, Chart]) -> Section:
    """pass@k, pass^k, per-group pass rates and code quality findings."""
    if not report.suite_ran("coding"):
        return Section("Coding", "AI 编程", (Paragraph(
            "Not run: this run has no coding records (run the coding evals with -m coding)."),))
    ks = sorted({k for s in report.coding.values() for k in s.pass_at})
    rows = []
    for m in report.models:
        s = report.coding.get(m)
        if s is None:
            rows.append((m, NOT_RUN, *([DASH] * (len(ks) + sum(k > 1 for k in ks)))))
            continue
        rows.append((m, f"{s.tasks} tasks / {s.samples} samples",
                     *(pct(s.pass_at.get(k), s.pass_at_ci.get(k)) for k in ks),
                     *(pct(s.pass_all.get(k)) for k in ks if k > 1)))
    blocks: list[Block] = [Table(
        ("model", "size", *(f"pass@{k}" for k in ks), *(f"pass^{k}" for k in ks if k > 1)),
        _rows(rows),
        "pass@k: unbiased estimate (human-eval) that at least one of k samples passes, with a "
        "95% interval (Wilson over tasks with one sample each, else a bootstrap over tasks); "
        "pass^k: that all k pass.")]
    groups = sorted({g for s in report.coding.values() for g in s.by_group})
    blocks.append(Table(("model", *groups), _rows(
        (m, *(rate(report.coding[m].by_group.get(g)) if m in report.coding else NOT_RUN
              for g in groups)) for m in report.models),
        "Pass rate per task group over all samples (Wilson 95% interval)."))
    finding_rows = [(m, ", ".join(f"{k} ×{n}" for k, n in list(s.findings.items())[:8])
                     or "none", ", ".join(f"{k}: {n}" for k, n in sorted(s.outcomes.items())))
                    for m, s in report.coding.items()]
    blocks.append(Table(("model", "quality findings", "outcomes"), _rows(finding_rows)))
    blocks += partial_blocks(report)
    if "coding_pass_at_1" in charts:
        blocks.append(Figure(charts["coding_pass_at_1"]))
    return Section("Coding", "AI 编程", tuple(blocks))


def perf_blocks(report: Report, charts: Mapping[str, Chart]) -> list[Block]:
    """The perf suite's own table (fixed-length outputs, per scenario and concurrency)."""
    from stackeval.perf.summary import cold_lines, gateway_lines, knee_lines, perf_rows

    rows = perf_rows(report.perf_summaries)
    blocks: list[Block] = []
    if len(rows) > 1:
        blocks.append(Table(tuple(rows[0]), _rows(rows[1:]),
                            "Performance suite: fixed-length outputs straight to each model's "
                            "server; c = concurrent streams (closed loop), or for the rate "
                            "scenario the offered request rate (open loop: requests arrive on a "
                            "Poisson or constant schedule whether or not earlier ones finished); "
                            "agg tok/s = all output tokens over wall time; good % = requests "
                            "meeting the SLOs."))
    extra = (knee_lines(report.perf_summaries) + cold_lines(report.perf_summaries)
             + gateway_lines(report.perf_summaries))
    if extra:
        blocks.append(Bullets(tuple(extra)))
    for key in ("concurrency_sweep", "rate_sweep"):
        if key in charts:
            blocks.append(Figure(charts[key]))
    return blocks


def speed_section(report: Report, charts: Mapping[str, Chart]) -> Section:
    """TTFT, end-to-end latency and tokens/s percentiles per model and suite."""
    head: list[Block] = (perf_blocks(report, charts) if report.suite_ran("perf") else
                         [Paragraph("The performance suite did not run (pytest evals/ -m perf); "
                                    "the figures below come from the Q&A and coding requests.")])
    rows = []
    for m in report.models:
        for suite in _suites_of(report, m):
            s = report.speed_of(m, suite)
            if s is None:
                rows.append((m, "all", NOT_RUN, *([DASH] * 5)))
                continue
            ttft = s.ttft_s
            rows.append((m, suite, s.e2e_s.n, f"{num(ttft.p50)} / {num(ttft.p90)} / "
                         f"{num(ttft.p99)}", f"{num(s.e2e_s.p50)} / {num(s.e2e_s.p90)}",
                         _spread(s.decode_tps, 1), _spread(s.server_decode_tps, 1),
                         ", ".join(f"{k} {n}" for k, n in s.token_sources.items())))
    if not any(r[2] != NOT_RUN for r in rows):
        return Section("Speed", "速度", (*head, Paragraph(
            "No request timings were saved in this run.")))
    blocks: list[Block] = [*head, Table(
        ("model", "suite", "requests", "TTFT p50 / p90 / p99 s", "E2E p50 / p90 s",
         "decode tok/s p50 (p10–p90)", "server tok/s p50 (p10–p90)", "token counts from"),
        _rows(rows),
        "Client-side timings from the streaming client; server tok/s is llama.cpp's own "
        "timings where the server reports them. The perf suite's numbers are the ones to quote; "
        "Q&A and coding timings include prompts of every length.")]
    for key in ("latency_distribution", "speed_vs_accuracy"):
        if key in charts:
            blocks.append(Figure(charts[key]))
    return Section("Speed", "速度", tuple(blocks))


def tokens_section(report: Report) -> Section:
    """Prompt and output tokens per model and task type."""
    rows = []
    for m in report.models:
        for suite in _suites_of(report, m):
            t = next((u for u in report.tokens if u.model == m and u.suite == suite), None)
            if t is None:
                rows.append((m, "all", NOT_RUN, DASH, DASH, DASH, DASH))
                continue
            prompt_mean, out_mean = t.per_request
            rows.append((m, suite, t.requests, f"{t.prompt_tokens:,}", f"{t.output_tokens:,}",
                         num(prompt_mean, 1), num(out_mean, 1)))
    return Section("Token use", "Token 消耗", (Table(
        ("model", "task type", "requests", "prompt tokens", "output tokens", "prompt / request",
         "output / request"), _rows(rows),
        "Counts as the server reported them (usage); requests without a count are left out of "
        "the sums."),))


def cost_section(report: Report) -> Section:
    """Local energy cost, API cost, and what the same tokens would cost at LLMaaS prices."""
    prices = report.prices
    if prices is None:
        return Section("Cost", "成本", (Paragraph(
            "No price file was given (stackeval report --prices fixtures/prices.yaml)."),))
    cur = prices.currency
    blocks: list[Block] = [Paragraph(
        f"Prices from {prices.source} (as of {prices.as_of}, {cur}): {prices.note} "
        f"Electricity: {num(prices.electricity_per_kwh, 2)} {cur}/kWh.")]
    rows = []
    for m in report.models:
        c = report.costs.get(m)
        if c is None:
            rows.append((m, NOT_RUN, DASH, DASH, DASH, DASH, DASH))
            continue
        rows.append((m, c.basis, c.detail, num(c.energy_kwh, 6) if c.energy_kwh else DASH,
                     money(c.amount, cur), money(c.per_correct, cur), money(c.per_1m_output, cur)))
    blocks.append(Table(("model", "basis", "how", "energy kWh", "cost", "per correct answer",
                         "per 1M output tokens"), _rows(rows),
                        "Local models: energy × electricity price (an estimate says so); "
                        "LLMaaS models: tokens × price. Correct answers count Q&A passes and "
                        "passing coding samples."))
    if report.api_equivalent and prices.providers:
        labels = [p.label for p in prices.providers]
        blocks.append(Table(("model", *labels), _rows(
            (m, *(money(report.api_equivalent.get(m, {}).get(lab), cur) if m in
                  report.api_equivalent else NOT_RUN for lab in labels))
            for m in report.models),
            "What this run's tokens (all suites) would have cost at each LLMaaS price; another "
            "model would have written a different number of tokens."))
        blocks.append(Table(("provider", "model", f"input {cur}/1M", f"output {cur}/1M"), _rows(
            (p.provider, p.model, f"{p.input_per_1m:g}", f"{p.output_per_1m:g}")
            for p in prices.providers), "Example LLMaaS prices used above."))
    return Section("Cost", "成本", tuple(blocks))


def resources_section(report: Report, charts: Mapping[str, Chart]) -> Section:
    """Telemetry summaries and curves."""
    if not report.resources:
        return Section("Resources", "资源占用 (CPU/GPU/内存)", (Paragraph(
            "Not recorded: no telemetry traces were saved with this run."),))
    rows = _rows((r.label, num(r.duration_s, 1), num(r.cpu_percent_mean, 0),
                  num(r.cpu_percent_peak, 0), num(r.rss_mib_peak, 0), num(r.gpu_mem_mib_peak, 0),
                  num(r.gpu_util_mean, 0),
                  f"{num(r.energy_j, 0)} J ({r.energy_method})" if r.energy_j is not None
                  else "not measured", r.source) for r in report.resources)
    blocks: list[Block] = [Table(("model", "seconds", "CPU % mean", "CPU % peak", "memory MiB peak",
                                  "GPU mem MiB peak", "GPU util % mean", "GPU energy", "file"),
                                 rows, "CPU % is per core (200% = two cores busy).")]
    if "resource_curves" in charts:
        blocks.append(Figure(charts["resource_curves"]))
    return Section("Resources", "资源占用 (CPU/GPU/内存)", tuple(blocks))


def method_section(report: Report) -> Section:
    """Definitions, so numbers can be compared with other tools."""
    items = (
        "TTFT: time from sending the request to the first streamed chunk carrying text "
        "(reasoning included); E2E: to the last byte.",
        "Decode tokens/s = 1 / TPOT, TPOT = (E2E − TTFT) / (output tokens − 1); guidellm's and "
        "aiperf's per-user tokens/s are the same idea.",
        "Output tokens come from the server's usage field when present; the \"token counts "
        "from\" column says which source each request used.",
        "Percentiles are linear-interpolated over requests; p10 of tokens/s is the slow tail.",
        "Accuracy counts graded attempts only. An answer cut off at max_tokens "
        "(finish_reason=length) is graded on the text that arrived: it passes when that text "
        "already holds the right answer, and otherwise counts as truncated (not passed).",
        f"Everything here was computed from {report.run_dir} alone; rerun stackeval report to "
        "rebuild it.",
    )
    return Section("Method", "方法说明", (Bullets(items),))


def build_sections(report: Report, charts: Mapping[str, Chart]) -> list[Section]:
    """The whole report in reading order."""
    lines = findings(report) or ("No records were found in this run.",)
    sections = [
        Section("Findings", "结论摘要", (Bullets(lines),)),
        setup_section(report),
        qa_section(report, charts),
        coding_section(report, charts),
        *_clients(report),
        paired_section(report),
        speed_section(report, charts),
        tokens_section(report),
        cost_section(report),
        resources_section(report, charts),
        method_section(report),
    ]
    if report.notes:
        sections.append(Section("Notes", "说明", (Bullets(report.notes),)))
    return sections


def _clients(report: Report) -> list[Section]:
    """Direct vs Continue CLI, only when some coding answer came through Continue."""
    section = clients_section(store.read_records(report.run_dir, "coding"))
    return [section] if section is not None else []

"""Coding through stackeval's own client and through the Continue CLI, side by side.

Reads only saved coding records (one run or several): pass@1, median E2E and TTFT, and tokens
per task for each (model, suite, client). The prompt tokens Continue adds are paired per task:
a Continue answer's prompt tokens (all its requests, from the server's usage) minus the direct
answer's to the same task, language and sample.

    python -m stackeval.report.clients RUN [RUN ...] [--out DIR]
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stackeval import store
from stackeval.report.blocks import DASH, Bullets, Section, Table, num, rate
from stackeval.report.stats import UNGRADED, Rate, passed
from stackeval.stats import mean, median

CLIENTS = ("direct", "continue")


@dataclass(frozen=True)
class ClientRow:
    """One model, suite and client."""

    model: str
    suite: str
    client: str
    pass_at_1: Rate  # samples passed out of samples graded (harness errors left out)
    e2e_median_s: float | None
    ttft_median_s: float | None
    prompt_tokens_mean: float | None
    output_tokens_mean: float | None
    extra_prompt_tokens_median: float | None  # paired with the direct answer; Continue rows only
    requests_per_task: float | None  # requests the client made per task (Continue: tool turns)


def client_of(rec: Mapping[str, Any]) -> str:
    """The client that produced a record (records from before the option are direct)."""
    return str(rec.get("client") or "direct")


def _metric(rec: Mapping[str, Any], key: str) -> float | None:
    value = (rec.get("metrics") or {}).get(key)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) \
        else None


def _key(rec: Mapping[str, Any]) -> tuple[Any, ...]:
    return rec.get("model"), rec.get("task_id"), rec.get("lang"), rec.get("sample", 0)


def client_rows(records: Iterable[Mapping[str, Any]]) -> list[ClientRow]:
    """Rows per (model, suite, client), in model, suite, client order."""
    groups: dict[tuple[str, str, str], list[Mapping[str, Any]]] = defaultdict(list)
    direct_prompt: dict[tuple[Any, ...], float] = {}
    for rec in records:
        if not isinstance(rec.get("model"), str):
            continue
        groups[(rec["model"], str(rec.get("suite") or "?"), client_of(rec))].append(rec)
        tokens = _metric(rec, "prompt_tokens")
        if client_of(rec) == "direct" and tokens is not None:
            direct_prompt[_key(rec)] = tokens
    order = {c: i for i, c in enumerate(CLIENTS)}
    rows = []
    for (model, suite, client), recs in sorted(
            groups.items(), key=lambda kv: (kv[0][0], kv[0][1], order.get(kv[0][2], 9))):
        graded = [r for r in recs if r.get("outcome") not in UNGRADED]
        extra = None
        if client != "direct":
            extra = median(_metric(r, "prompt_tokens") - direct_prompt[_key(r)]  # type: ignore[operator]
                            for r in recs if _key(r) in direct_prompt
                            and _metric(r, "prompt_tokens") is not None)
        rows.append(ClientRow(
            model, suite, client, Rate(sum(passed(r) for r in graded), len(graded)),
            median(_metric(r, "e2e_s") for r in graded),
            median(_metric(r, "ttft_s") for r in graded),
            mean(_metric(r, "prompt_tokens") for r in graded),
            mean(_metric(r, "output_tokens") for r in graded), extra,
            mean(float(len((r.get("continue") or {}).get("calls") or [])) if client != "direct"
                  else 1.0 for r in graded) if graded else None))
    return rows


def clients_section(records: Iterable[Mapping[str, Any]]) -> Section | None:
    """The side-by-side section, or None when no record came through Continue."""
    rows = client_rows(records)
    if not any(r.client != "direct" for r in rows):
        return None
    table = Table(
        ("model", "suite", "client", "pass@1", "E2E median s", "TTFT median s",
         "prompt tok/task", "output tok/task", "extra prompt tok (paired median)",
         "requests/task"),
        tuple((r.model, r.suite, r.client, rate(r.pass_at_1), num(r.e2e_median_s),
               num(r.ttft_median_s), num(r.prompt_tokens_mean, 0), num(r.output_tokens_mean, 0),
               num(r.extra_prompt_tokens_median, 0) if r.client != "direct" else DASH,
               num(r.requests_per_task, 1)) for r in rows),
        caption="Each coding task through stackeval's client (direct) and the Continue CLI.")
    notes = Bullets((
        "Continue: E2E is the whole `cn -p` process (Node start-up included); TTFT is from its "
        "start to the first streamed token of any of its requests, measured by a pass-through "
        "in front of the gateway.",
        "Tokens are the server's usage for every request Continue made (its system prompt, "
        "rules and tool definitions included); extra prompt tokens pair each Continue answer "
        "with the direct answer to the same task, language and sample (– when none ran).",
        "pass@1 leaves harness errors out, as everywhere in this report.",
    ))
    return Section("Coding: direct client vs Continue CLI", "编程：直接调用与 Continue 客户端对比",
                   (table, notes))


def main(argv: list[str] | None = None) -> int:
    """Print (and write) the side-by-side table of one or more runs' coding records."""
    from stackeval.report.markdown import write_markdown

    p = argparse.ArgumentParser(prog="python -m stackeval.report.clients",
                                description=main.__doc__)
    p.add_argument("runs", nargs="+", type=Path, help="run directories (reports/runs/<id>)")
    p.add_argument("--out", type=Path, help="where clients.md goes (default: "
                   "REPORTS_DIR/comparison/clients-<first run id>)")
    args = p.parse_args(argv)
    missing = [str(r) for r in args.runs if not r.is_dir()]
    if missing:
        print(f"no such run directory: {', '.join(missing)}", file=sys.stderr)
        return 2
    records = [r for run in args.runs for r in store.read_records(run, "coding")
               if isinstance(r, dict)]
    section = clients_section(records)
    if section is None:
        print("no coding record came through Continue (--client continue) in these runs",
              file=sys.stderr)
        return 1
    path = write_markdown("Coding clients", "编程客户端", ", ".join(r.name for r in args.runs),
                          [section], (args.out or args.runs[0].parent.parent / "comparison"
                                      / f"clients-{args.runs[0].name}") / "clients.md")
    print(path.read_text(encoding="utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())

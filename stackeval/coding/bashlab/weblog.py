"""Task 3 of the bash lab: the web access log (top hosts, URLs and response codes)."""

from __future__ import annotations

import re
from collections import Counter, defaultdict

from stackeval.coding import datagen
from stackeval.coding.bashlab.checks import (
    SEPARATORS,
    Data,
    exit_failures,
    help_case,
    known_token,
    row_problem,
    top_failures,
    tsv_records,
)
from stackeval.coding.cases import Case
from stackeval.sandbox import ExecResult

# ---- task 3: web access log ---------------------------------------------------------------

_IPV4 = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")


def weblog_requests(data: Data) -> list[tuple[str, str, str]]:
    """(host, url, response) of every request in an access log TSV."""
    columns = {"host": 0, "url": 4, "response": 5}
    return [
        (rec["host"].strip(), rec["url"].strip(), rec["response"].strip())
        for _, rec in tsv_records(data, columns, "web log")
    ]


def weblog_cases(script_name: str, script: str, data: Data | None = None) -> list[Case]:
    """The cases of the web log task, with figures computed from ``data`` (default: generated)."""
    raw = datagen.weblog_tsv() if data is None else data
    rows = weblog_requests(raw)
    total = len(rows)
    files: dict[str, Data] = {script_name: script, datagen.WEBLOG_FILE: raw}
    hosts = Counter(host for host, _, _ in rows if host)
    urls = Counter(url for _, url, _ in rows if url)
    statuses = Counter(code for _, _, code in rows if code)
    ranked = urls.most_common(2)
    url = ranked[-1][0] if ranked else "/"  # the second most popular: many hosts, not just "/"

    def top(
        option: str, truth: Counter[str], universe: set[str], extra: tuple[str, ...] = ()
    ) -> Case:
        def verify(result: ExecResult) -> list[str]:
            lines = result.stdout.splitlines()
            return exit_failures(result) + top_failures(option, lines, truth, universe, 100)

        return Case(
            option, files, ("bash", script_name, option, *extra, datagen.WEBLOG_FILE), verify
        )

    code_patterns = {code: rf"(?<![\d.]){re.escape(code)}(?![\d.])" for code in statuses}

    def status(result: ExecResult) -> list[str]:
        lines = result.stdout.splitlines()
        found = [
            row_problem(lines, f"--status {code}", code_patterns[code], n, 100 * n / total,
                 code_patterns.values())
            for code, n in sorted(statuses.items())
        ]
        return exit_failures(result) + [f for f in found if f]

    by_code = {
        code: Counter(u for _, u, c in rows if c == code and u)
        for code in statuses
        if code.startswith("4")
    }

    def client_errors(result: ExecResult) -> list[str]:
        sections: dict[str, list[str]] = defaultdict(list)
        current = None
        for line in result.stdout.splitlines():
            codes = [
                t.strip(":()[]") for t in SEPARATORS.split(line) if t.strip(":()[]") in by_code
            ]
            hit = known_token(line, set(urls))
            if codes and not hit:  # a heading such as "404:"
                current = codes[0]
            elif hit and (codes or current):
                sections[codes[0] if codes else current].append(
                    line.replace(codes[0], " ", 1) if codes else line
                )
        failures = exit_failures(result)
        for code, truth in sorted(by_code.items()):
            failures += top_failures(f"--4xx {code}", sections[code], truth, set(urls), 10)
        return failures

    return [
        help_case(
            script_name,
            files,
            ("--top-hosts", "--top-ips", "--top-urls", "--status", "--4xx", "--url"),
        ),
        top("--top-hosts", hosts, set(hosts)),
        top(
            "--top-ips", Counter({h: n for h, n in hosts.items() if _IPV4.fullmatch(h)}), set(hosts)
        ),
        top("--top-urls", urls, set(urls)),
        Case("--status", files, ("bash", script_name, "--status", datagen.WEBLOG_FILE), status,
             checks=tuple(f"--status {code}" for code in sorted(statuses))),
        Case("--4xx", files, ("bash", script_name, "--4xx", datagen.WEBLOG_FILE), client_errors,
             checks=tuple(f"--4xx {code}" for code in sorted(by_code))),
        top("--url", Counter(h for h, u, _ in rows if u == url and h), set(hosts), (url,)),
    ]

"""Checks the bash lab's tasks share: numbers, exit status, --help, labelled rows, top-N
lists, and reading a TSV data file."""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Iterable, Mapping

from stackeval.coding.cases import Case
from stackeval.errors import ConfigError
from stackeval.sandbox import ExecResult

_NUMBER = re.compile(r"\d+(?:\.\d+)?")
SEPARATORS = re.compile(r"[\s,;|]+")
_PCT_TOLERANCE = 0.05 + 1e-6  # a percentage printed with one or two decimals

Data = str | bytes


# ---- shared checks ------------------------------------------------------------------------


def numbers_in(text: str) -> list[float]:
    """Every number printed in ``text``, in order."""
    return [float(n) for n in _NUMBER.findall(text)]


def exit_failures(result: ExecResult) -> list[str]:
    """A failure naming the exit status and last stderr line, unless the script exited 0."""
    if result.exit_code not in (0, None):
        tail = result.stderr.strip().splitlines()[-1:] or ["(no stderr)"]
        return [f"exit status {result.exit_code}: {tail[0][:200]}"]
    return []


HELP_EXIT = "--help exit status"


def help_case(script_name: str, files: dict[str, Data], options: Iterable[str]) -> Case:
    """The ``--help`` case: two sub-checks, a usage text naming every option, and that usage
    exiting 0.

    The prompts ask for both. Scripts that print a full usage and then ``exit 1`` are common, and
    a teacher credits the usage text; exit status 0 alone (a script that does nothing) earns
    nothing.
    """

    def verify(result: ExecResult) -> list[str]:
        text = result.stdout + result.stderr
        missing = [opt for opt in options if opt not in text]
        exits = [f"--help {f}" for f in exit_failures(result)]  # "--help exit status N: ..."
        usage = []
        if not text.strip():
            usage.append("--help printed nothing")
        elif missing:
            usage.append(f"--help does not mention {', '.join(missing)}")
        if usage and not exits:  # exit 0 earns nothing without the usage it should end
            return [*usage, f"{HELP_EXIT} 0, but with no full usage text"]
        return exits + usage

    return Case("--help", files, ("bash", script_name, "--help"), verify,
                checks=("--help", HELP_EXIT))


def row_problem(
    lines: list[str],
    label: str,
    pattern: str,
    count: int,
    pct: float | None,
    siblings: Iterable[str] = (),
) -> str | None:
    """None if a line shows ``count`` (and ``pct``) for the label ``pattern``, else why not.

    A line with one label holds that label's figures; on a line with several labels (``pattern``
    and its ``siblings``), each label holds the text up to the next one: "<20: 5, 20-30: 600".
    """
    others = [p for p in siblings if p != pattern]
    matching = []
    for line in lines:
        found = re.search(pattern, line, re.IGNORECASE)
        if not found:
            continue
        matching.append(line)
        starts = [m.start() for p in others for m in re.finditer(p, line, re.IGNORECASE)]
        if starts:
            following = [s for s in starts if s >= found.end()]
            text = line[found.end() : min(following, default=len(line))]
        else:
            text = line[: found.start()] + " " + line[found.end() :]
        numbers = numbers_in(text)
        if count in numbers and (
            pct is None or any(abs(n - pct) <= _PCT_TOLERANCE for n in numbers)
        ):
            return None
    want = f"{count}" + ("" if pct is None else f" and {pct:.2f}%")
    if not matching:
        return f"{label}: no line for it (expected {want})"
    return f"{label}: expected {want}, got {matching[0].strip()[:120]!r}"


def known_token(line: str, universe: set[str]) -> str | None:
    """The first token of ``line`` that is a known host or URL."""
    for raw in re.split(r"[\s|]+", line):
        token = raw.strip("'\"()[]{}<>")
        for candidate in (token, token.rstrip(",;:"), token.rstrip(",;:.")):
            if candidate in universe:
                return candidate
    return None


def top_failures(
    label: str, lines: Iterable[str], truth: Counter[str], universe: set[str], n: int
) -> list[str]:
    """Check a "top n with counts" listing; any choice among entries tied at the cut-off is fine."""
    printed = [(key, line) for line in lines if (key := known_token(line, universe))]
    if not truth:
        return []
    if not printed:
        return [f"{label}: none of the expected entries in the output"]
    failures = []
    foreign = [key for key, _ in printed if key not in truth]
    if foreign:
        failures.append(f"{label}: lists {foreign[0]!r}, which does not belong in this listing")
    wrong = [
        (k, line)
        for k, line in printed
        if k in truth and truth[k] not in numbers_in(line.replace(k, " "))
    ]
    if wrong:
        key, line = wrong[0]
        failures.append(
            f"{label}: {len(wrong)} line(s) with a wrong count, e.g. {line.strip()[:100]!r} "
            f"(expected {truth[key]})"
        )
    keys = [key for key, _ in printed if key in truth]
    ranked = truth.most_common()
    cutoff = ranked[min(n, len(ranked)) - 1][1]
    missing = sorted(
        (k for k, c in truth.items() if c > cutoff and k not in keys), key=lambda k: -truth[k]
    )
    if missing:
        failures.append(
            f"{label}: misses {len(missing)} entries of the top {n}, e.g. "
            f"{missing[0]} ({truth[missing[0]]})"
        )
    below = [k for k in keys if truth[k] < cutoff]
    if below:
        failures.append(
            f"{label}: lists {below[0]} ({truth[below[0]]}), which is not in the top {n}"
        )
    want = min(n, len(truth))
    if len(keys) != want or len(set(keys)) != len(keys):
        failures.append(f"{label}: {len(keys)} entries listed, expected {want} distinct ones")
    counts = [truth[k] for k in keys]
    if any(a < b for a, b in itertools.pairwise(counts)):
        failures.append(f"{label}: not sorted by count, largest first")
    return failures


def word_pattern(text: str) -> str:
    """A pattern for ``text`` standing on its own: not part of a longer word or name."""
    return rf"(?<!\w){re.escape(text)}(?!\w)"


def name_printed(text: str, names: Iterable[str]) -> str | None:
    """The first of ``names`` that ``text`` prints on its own (not inside a longer name)."""
    for name in names:
        if re.search(word_pattern(name), text):
            return name
    return None


# ---- reading a data file --------------------------------------------------------------------


def tsv_records(
    data: Data, columns: Mapping[str, int], what: str
) -> list[tuple[int, dict[str, str]]]:
    """(line number, {column: value}) for each data line of a TSV file with a header line.

    Columns are found by their header name (any case), else at their documented position; a
    field missing from a short line is "". Blank lines are skipped, a UTF-8 BOM and CRs ignored.
    """
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            bad = exc.object[exc.start : exc.start + 1]
            raise ConfigError(f"the {what} is not UTF-8 text (byte {exc.start}: {bad!r})") from exc
    lines = [line.removesuffix("\r") for line in data.removeprefix("\ufeff").split("\n")]
    header = [name.strip().lower() for name in lines[0].split("\t")]
    where = {key: header.index(key) if key in header else at for key, at in columns.items()}
    records = []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        fields = line.split("\t")
        records.append(
            (number, {key: fields[at] if at < len(fields) else "" for key, at in where.items()})
        )
    if not records:
        raise ConfigError(f"the {what} has no data lines (the first line is the header)")
    return records

"""Task 2 of the bash lab: the World Cup players file (age bands, name lengths, positions)."""

from __future__ import annotations

import re
from collections import Counter

from stackeval.coding import datagen
from stackeval.coding.bashlab.checks import (
    Data,
    exit_failures,
    help_case,
    name_printed,
    row_problem,
    tsv_records,
    word_pattern,
)
from stackeval.coding.cases import Case
from stackeval.errors import ConfigError
from stackeval.sandbox import ExecResult

# ---- task 2: World Cup players ------------------------------------------------------------

_BANDS = {
    "<20": r"<\s*20(?!\d)",
    "20-30": r"(?<![\d<>])20\s*[-~–—]\s*30(?!\d)",
    ">30": r">\s*30(?!\d)",
}
# labels of the --name lines (after the names in the line are blanked out)
_LENGTH_LABELS = {
    "longest": re.compile(r"longest|long|max|最长", re.IGNORECASE),
    "shortest": re.compile(r"shortest|short|min|最短", re.IGNORECASE),
}


def worldcup_players(data: Data) -> list[tuple[str, int, str]]:
    """(position, age, name) of every player in a World Cup TSV, blanks around values removed."""
    players = []
    for number, rec in tsv_records(data, {"position": 4, "age": 5, "player": 8}, "World Cup file"):
        age = rec["age"].strip()
        if not re.fullmatch(r"\d{1,3}", age):
            raise ConfigError(
                f"World Cup file, line {number}: the age {rec['age']!r} is not a number"
            )
        position, name = rec["position"].strip(), rec["player"].strip()
        if not position or not name:
            raise ConfigError(
                f"World Cup file, line {number}: no {'position' if not position else 'player'}"
            )
        players.append((position, int(age), name))
    return players


def worldcup_cases(script_name: str, script: str, data: Data | None = None) -> list[Case]:
    """The cases of the World Cup task, with figures computed from ``data`` (default: generated)."""
    raw = datagen.worldcup_tsv() if data is None else data
    players = worldcup_players(raw)
    total = len(players)
    files: dict[str, Data] = {script_name: script, datagen.WORLDCUP_FILE: raw}
    names = [name for _, _, name in players]
    ages = [age for _, age, _ in players]

    def argv(option: str) -> tuple[str, ...]:
        return ("bash", script_name, option, datagen.WORLDCUP_FILE)

    def shares(option: str, counts: dict[str, int], patterns: dict[str, str]) -> Case:
        def verify(result: ExecResult) -> list[str]:
            lines = result.stdout.splitlines()
            found = [
                row_problem(lines, f"{option} {label}", patterns[label], n, 100 * n / total,
                     patterns.values())
                for label, n in counts.items()
            ]
            return exit_failures(result) + [f for f in found if f]

        return Case(option, files, argv(option), verify,
                    checks=tuple(f"{option} {label}" for label in counts))

    def positions() -> Case:
        """One line per position as written; a foreign spelling may instead be merged into its
        English name (one line for both), never both."""
        counts = Counter(position for position, _, _ in players)
        patterns = {p: word_pattern(p) for p in counts}
        aliases = {
            a: e for a, e in datagen.FOREIGN_POSITIONS.items() if a in counts and e in counts
        }

        def verify(result: ExecResult) -> list[str]:
            lines = result.stdout.splitlines()

            def row(position: str, n: int) -> str | None:
                return row_problem(lines, f"--position {position}", patterns[position], n,
                            100 * n / total, patterns.values())

            own_line = {
                a for a in aliases if any(re.search(patterns[a], ln, re.I) for ln in lines)
            }
            failures = exit_failures(result)
            for position, n in counts.items():
                failure = row(position, n)
                if failure and position in aliases and position not in own_line:
                    english = aliases[position]  # merged: one line for both spellings
                    merged = row(english, counts[english] + n)
                    failure = merged and f"{failure}; nor counted with {english}"
                elif failure:
                    merged = n + sum(
                        counts[a] for a, e in aliases.items() if e == position and a not in own_line
                    )
                    failure = failure if merged == n else row(position, merged) and failure
                if failure:
                    failures.append(failure)
            return failures

        return Case("--position", files, argv("--position"), verify,
                    checks=tuple(f"--position {p}" for p in counts))

    def lengths() -> Case:
        """The longest and the shortest names, each on a line with its label (or under a
        heading with it); swapped labels fail."""
        length = {name: len(name) for name in names}
        expected = {
            "longest": {n for n, k in length.items() if k == max(length.values())},
            "shortest": {n for n, k in length.items() if k == min(length.values())},
        }
        longest_first = sorted(set(names), key=len, reverse=True)
        any_name = re.compile("|".join(word_pattern(n) for n in longest_first))

        def verify(result: ExecResult) -> list[str]:
            found: dict[str, set[str]] = {"longest": set(), "shortest": set()}
            unlabelled: set[str] = set()
            current = None
            for line in result.stdout.splitlines():
                hits = [(m.start(), m.group()) for m in any_name.finditer(line)]
                masked = any_name.sub(lambda m: " " * len(m.group()), line)
                labels = sorted(
                    (m.start(), label)
                    for label, pattern in _LENGTH_LABELS.items()
                    for m in pattern.finditer(masked)
                )
                for start, name in hits:
                    before = [label for at, label in labels if at < start]
                    label = before[-1] if before else labels[0][1] if labels else current
                    (found[label] if label else unlabelled).add(name)
                if labels:
                    current = labels[-1][1]
            failures = exit_failures(result)
            for label, want in expected.items():
                other = "shortest" if label == "longest" else "longest"
                size = len(next(iter(want)))
                for name in sorted(want - found[label]):
                    where = (
                        f", printed as {other}" if name in found[other]
                        else ", printed without a longest/shortest label" if name in unlabelled
                        else ""
                    )
                    failures.append(f"--name {label}: {name!r} ({size} characters) missing{where}")
                extra = sorted(found[label] - want, key=lambda n: (-len(n), n))
                if extra:
                    failures.append(
                        f"--name {label}: also prints {extra[0]!r} ({len(extra[0])} characters; "
                        f"the {label} names have {size})"
                    )
            stray = sorted(unlabelled - expected["longest"] - expected["shortest"])
            if stray:
                failures.append(
                    f"--name: prints {stray[0]!r}, neither the longest nor the shortest"
                )
            return failures

        return Case("--name", files, argv("--name"), verify,
                    checks=("--name longest", "--name shortest"))

    def extremes(option: str, age: int) -> Case:
        """A line with name and age for each player of that age, and no other player."""
        expected = sorted({name for name, a in zip(names, ages, strict=True) if a == age})
        patterns = [word_pattern(name) for name in expected]

        def verify(result: ExecResult) -> list[str]:
            lines = result.stdout.splitlines()
            failures = exit_failures(result)
            for name, pattern in zip(expected, patterns, strict=True):
                failure = row_problem(lines, f"{option} {name}", pattern, age, None, patterns)
                if failure:
                    failures.append(failure)
            others = [n for n in set(names) if not any(n in e for e in expected)]
            extra = name_printed(result.stdout, sorted(others))
            if extra:
                failures.append(f"{option}: also prints {extra!r}, who is not {age}")
            return failures

        return Case(option, files, argv(option), verify)

    bands = Counter("<20" if a < 20 else "20-30" if a <= 30 else ">30" for a in ages)
    return [
        help_case(script_name, files, ("--age", "--position", "--name", "--oldest", "--youngest")),
        shares("--age", {b: bands[b] for b in _BANDS}, _BANDS),
        positions(),
        lengths(),
        extremes("--oldest", max(ages)),
        extremes("--youngest", min(ages)),
    ]

"""The course's bash lab: test cases for its three scripts and tolerant checks of their output.

Expected figures are computed here in Python from the generated data. Checks are lenient on
layout (separators, spacing, 1-2 decimals, tie order at a cut-off) and strict on values.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable

from stackeval.coding import datagen
from stackeval.coding.cases import Case
from stackeval.errors import ConfigError
from stackeval.sandbox import ExecResult

_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_SEPARATORS = re.compile(r"[\s,;|]+")
_PCT_TOLERANCE = 0.05 + 1e-6  # a percentage printed with one or two decimals


def bash_cases(checker: str, script_name: str, script: str) -> list[Case]:
    """The cases of one bash lab task (``checker`` is the task's ``test`` field)."""
    builders: dict[str, Callable[[str, str], list[Case]]] = {
        "worldcup": _worldcup,
        "weblog": _weblog,
        "imgproc": _imgproc,
    }
    if checker not in builders:
        raise ConfigError(f"unknown bash lab checker {checker!r}; known: {', '.join(builders)}")
    return builders[checker](script_name, script)


# ---- shared checks ------------------------------------------------------------------------


def _numbers(text: str) -> list[float]:
    return [float(n) for n in _NUMBER.findall(text)]


def _exit_ok(result: ExecResult) -> list[str]:
    if result.exit_code not in (0, None):
        tail = result.stderr.strip().splitlines()[-1:] or ["(no stderr)"]
        return [f"exit status {result.exit_code}: {tail[0][:200]}"]
    return []


def _help_case(script_name: str, files: dict[str, str], options: Iterable[str]) -> Case:
    def verify(result: ExecResult) -> list[str]:
        text = result.stdout + result.stderr
        missing = [opt for opt in options if opt not in text]
        failures = _exit_ok(result)
        if not text.strip():
            failures.append("--help printed nothing")
        elif missing:
            failures.append(f"--help does not mention {', '.join(missing)}")
        return failures

    return Case("--help", files, ("bash", script_name, "--help"), verify)


def _row(lines: list[str], label: str, pattern: str, count: int, pct: float | None) -> str | None:
    """None if one line matches ``pattern`` and holds ``count`` (and ``pct``), else why not."""
    matching = [line for line in lines if re.search(pattern, line, re.IGNORECASE)]
    for line in matching:
        numbers = _numbers(re.sub(pattern, " ", line, flags=re.IGNORECASE))
        if count in numbers and (
            pct is None or any(abs(n - pct) <= _PCT_TOLERANCE for n in numbers)
        ):
            return None
    want = f"{count}" + ("" if pct is None else f" and {pct:.2f}%")
    if not matching:
        return f"{label}: no line for it (expected {want})"
    return f"{label}: expected {want}, got {matching[0].strip()[:120]!r}"


def _known(line: str, universe: set[str]) -> str | None:
    """The first token of ``line`` that is a known host or URL."""
    for raw in _SEPARATORS.split(line):
        token = raw.strip("'\"()[]{}:")
        for candidate in (token, token.rstrip(".")):
            if candidate in universe:
                return candidate
    return None


def _top(
    label: str, lines: Iterable[str], truth: Counter[str], universe: set[str], n: int
) -> list[str]:
    """Check a "top n with counts" listing; any choice among entries tied at the cut-off is fine."""
    printed = [(key, line) for line in lines if (key := _known(line, universe))]
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
        if k in truth and truth[k] not in _numbers(line.replace(k, " "))
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


def _name_absent(text: str, names: Iterable[str]) -> str | None:
    for name in names:
        if re.search(rf"(?<![A-Za-z]){re.escape(name)}(?![A-Za-z])", text):
            return name
    return None


# ---- task 2: World Cup players ------------------------------------------------------------

_BANDS = {
    "<20": r"<\s*20(?!\d)",
    "20-30": r"(?<![\d<>])20\s*[-~–—]\s*30(?!\d)",
    ">30": r">\s*30(?!\d)",
}


def _worldcup(script_name: str, script: str) -> list[Case]:
    rows = datagen.worldcup_rows()
    total = len(rows)
    files = {script_name: script, datagen.WORLDCUP_FILE: datagen.worldcup_tsv()}
    names = [r[8] for r in rows]
    ages = [int(r[5]) for r in rows]

    def argv(option: str) -> tuple[str, ...]:
        return ("bash", script_name, option, datagen.WORLDCUP_FILE)

    def shares(option: str, counts: dict[str, int], patterns: dict[str, str]) -> Case:
        def verify(result: ExecResult) -> list[str]:
            lines = result.stdout.splitlines()
            found = [
                _row(lines, f"{option} {label}", patterns[label], n, 100 * n / total)
                for label, n in counts.items()
            ]
            return _exit_ok(result) + [f for f in found if f]

        return Case(option, files, argv(option), verify)

    def players(option: str, expected: dict[str, str]) -> Case:
        """Lines naming exactly the ``expected`` players (with their age, if given)."""

        def verify(result: ExecResult) -> list[str]:
            lines = result.stdout.splitlines()
            failures = _exit_ok(result)
            for name, age in expected.items():
                pattern = rf"(?<![A-Za-z]){re.escape(name)}(?![A-Za-z])"
                if age:
                    failure = _row(lines, f"{option} {name}", pattern, int(age), None)
                else:
                    failure = (
                        None if re.search(pattern, result.stdout) else f"{option}: {name!r} missing"
                    )
                if failure:
                    failures.append(failure)
            others = [n for n in names if n not in expected and not any(n in e for e in expected)]
            extra = _name_absent(result.stdout, others)
            if extra:
                failures.append(f"{option}: also prints {extra!r}, which is not expected")
            return failures

        return Case(option, files, argv(option), verify)

    bands = Counter("<20" if a < 20 else "20-30" if a <= 30 else ">30" for a in ages)
    positions = Counter(r[4] for r in rows)
    lengths = [len(n) for n in names]
    return [
        _help_case(script_name, files, ("--age", "--position", "--name", "--oldest", "--youngest")),
        shares("--age", {b: bands[b] for b in _BANDS}, _BANDS),
        shares("--position", dict(positions), {p: rf"\b{p}\b" for p in positions}),
        players(
            "--name",
            {
                n: ""
                for n, k in zip(names, lengths, strict=True)
                if k in (max(lengths), min(lengths))
            },
        ),
        players(
            "--oldest", {n: str(a) for n, a in zip(names, ages, strict=True) if a == max(ages)}
        ),
        players(
            "--youngest", {n: str(a) for n, a in zip(names, ages, strict=True) if a == min(ages)}
        ),
    ]


# ---- task 3: web access log ---------------------------------------------------------------

_IPV4 = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")


def _weblog(script_name: str, script: str) -> list[Case]:
    rows = datagen.weblog_rows()
    total = len(rows)
    files = {script_name: script, datagen.WEBLOG_FILE: datagen.weblog_tsv()}
    hosts = Counter(r[0] for r in rows)
    urls = Counter(r[4] for r in rows)
    statuses = Counter(r[5] for r in rows)
    url = urls.most_common(2)[1][0]  # the second most popular: many hosts, not just "/"

    def top(
        option: str, truth: Counter[str], universe: set[str], extra: tuple[str, ...] = ()
    ) -> Case:
        def verify(result: ExecResult) -> list[str]:
            return _exit_ok(result) + _top(option, result.stdout.splitlines(), truth, universe, 100)

        return Case(
            option, files, ("bash", script_name, option, *extra, datagen.WEBLOG_FILE), verify
        )

    def status(result: ExecResult) -> list[str]:
        lines = result.stdout.splitlines()
        found = [
            _row(lines, f"--status {code}", rf"(?<![\d.]){code}(?![\d.])", n, 100 * n / total)
            for code, n in sorted(statuses.items())
        ]
        return _exit_ok(result) + [f for f in found if f]

    by_code = {
        code: Counter(r[4] for r in rows if r[5] == code)
        for code in statuses
        if code.startswith("4")
    }

    def client_errors(result: ExecResult) -> list[str]:
        sections: dict[str, list[str]] = defaultdict(list)
        current = None
        for line in result.stdout.splitlines():
            codes = [
                t.strip(":()[]") for t in _SEPARATORS.split(line) if t.strip(":()[]") in by_code
            ]
            hit = _known(line, set(urls))
            if codes and not hit:  # a heading such as "404:"
                current = codes[0]
            elif hit and (codes or current):
                sections[codes[0] if codes else current].append(
                    line.replace(codes[0], " ", 1) if codes else line
                )
        failures = _exit_ok(result)
        for code, truth in sorted(by_code.items()):
            failures += _top(f"--4xx {code}", sections[code], truth, set(urls), 10)
        return failures

    return [
        _help_case(
            script_name,
            files,
            ("--top-hosts", "--top-ips", "--top-urls", "--status", "--4xx", "--url"),
        ),
        top("--top-hosts", hosts, set(hosts)),
        top(
            "--top-ips", Counter({h: n for h, n in hosts.items() if _IPV4.fullmatch(h)}), set(hosts)
        ),
        top("--top-urls", urls, set(urls)),
        Case("--status", files, ("bash", script_name, "--status", datagen.WEBLOG_FILE), status),
        Case("--4xx", files, ("bash", script_name, "--4xx", datagen.WEBLOG_FILE), client_errors),
        top("--url", Counter(r[0] for r in rows if r[4] == url), set(hosts), (url,)),
    ]


# ---- task 1: image processing -------------------------------------------------------------

_DRIVER = """\
#!/bin/bash
# stackeval's driver: build the inputs, run the candidate, describe what it wrote to out/
if ! bash make_images.sh >/dev/null 2>setup.err; then
  echo "@@SETUP_FAILED $(head -c 500 setup.err)"
  exit 90
fi
mkdir -p out
bash @SCRIPT@ "$@" in out >candidate.out 2>candidate.err
status=$?
echo "@@EXIT $status"
head -c 2000 candidate.err >&2
for f in out/*; do
  [ -f "$f" ] || continue
  n=${f#out/}
  info=$(identify -format '%m %w %h %Q' "$f[0]" 2>/dev/null) || info=UNREADABLE
  diff=
  if [ "$1" = --watermark ] && [ -f "in/$n" ]; then
    diff=$(compare -metric AE -fuzz 8% "in/$n" "$f" null: 2>&1)
  fi
  echo "@@IMG $n|$info|$diff"
done
exit "$status"
"""
_QUALITY, _SIZE, _PREFIX, _SUFFIX, _WATERMARK = 50, 100, "new_", "_v2", "stackeval"


def _imgproc(script_name: str, script: str) -> list[Case]:
    files = {
        script_name: script,
        "make_images.sh": datagen.IMAGE_SETUP,
        "driver.sh": _DRIVER.replace("@SCRIPT@", script_name),
    }
    images = datagen.IMAGES

    def base(name: str) -> str:
        return name.rsplit(".", 1)[0]

    def resized(w: int, h: int) -> tuple[int, int]:
        scale = min(1.0, _SIZE / max(w, h))
        return round(w * scale), round(h * scale)

    # option -> {output name: (format, width, height)}
    expected: dict[str, dict[str, tuple[str, int, int]]] = {
        "--quality": {
            n: ("JPEG", w, h) for n, (w, h) in images.items() if n.endswith((".jpg", ".jpeg"))
        },
        "--resize": {
            (n if not n.endswith(".svg") else base(n) + ".png"): (
                _format(n, svg_as="PNG"),
                *resized(w, h),
            )
            for n, (w, h) in images.items()
        },
        "--watermark": {
            n: (_format(n), w, h) for n, (w, h) in images.items() if not n.endswith(".svg")
        },
        "--prefix": {_PREFIX + n: (_format(n), w, h) for n, (w, h) in images.items()},
        "--suffix": {
            f"{base(n)}{_SUFFIX}.{n.rsplit('.', 1)[1]}": (_format(n), w, h)
            for n, (w, h) in images.items()
        },
        "--to-jpg": {
            base(n) + ".jpg": ("JPEG", w, h)
            for n, (w, h) in images.items()
            if n.endswith((".png", ".svg"))
        },
    }
    args = {
        "--quality": (str(_QUALITY),),
        "--resize": (str(_SIZE),),
        "--watermark": (_WATERMARK,),
        "--prefix": (_PREFIX,),
        "--suffix": (_SUFFIX,),
        "--to-jpg": (),
    }

    def case(option: str) -> Case:
        def verify(result: ExecResult) -> list[str]:
            return _verify_images(option, result, expected[option])

        return Case(option, files, ("bash", "driver.sh", option, *args[option]), verify)

    return [
        _help_case(
            script_name,
            {script_name: script},
            ("--quality", "--resize", "--watermark", "--prefix", "--suffix", "--to-jpg"),
        ),
        *(case(option) for option in expected),
    ]


def _format(name: str, svg_as: str = "SVG") -> str:
    ext = name.rsplit(".", 1)[1]
    return {"jpg": "JPEG", "jpeg": "JPEG", "png": "PNG", "svg": svg_as}[ext]


def _verify_images(
    option: str, result: ExecResult, expected: dict[str, tuple[str, int, int]]
) -> list[str]:
    if "@@SETUP_FAILED" in result.stdout:
        raise ConfigError(
            f"building the test images failed in the sandbox: {result.stdout.strip()[:300]}"
        )
    status = re.search(r"^@@EXIT (\d+)$", result.stdout, re.MULTILINE)
    if status is None:
        return [f"{option}: the script did not finish"]
    failures = (
        []
        if status.group(1) == "0"
        else [
            f"{option}: exit status {status.group(1)}: "
            f"{(result.stderr.strip().splitlines() or [''])[-1][:200]}"
        ]
    )
    found: dict[str, list[str]] = {}
    for line in result.stdout.splitlines():
        if line.startswith("@@IMG "):
            name, info, diff = (line[6:].split("|") + ["", ""])[:3]
            found[name] = info.split() + [diff.strip()]
    for name, (fmt, w, h) in expected.items():
        if name not in found:
            failures.append(
                f"{option}: out/{name} was not written "
                f"(found: {', '.join(sorted(found)) or 'nothing'})"
            )
            continue
        got = found[name]
        if got[0] == "UNREADABLE" or len(got) < 4:
            failures.append(f"{option}: out/{name} is not a readable image")
            continue
        if got[0] != fmt:
            failures.append(f"{option}: out/{name} is {got[0]}, expected {fmt}")
        if abs(int(got[1]) - w) > 1 or abs(int(got[2]) - h) > 1:
            failures.append(f"{option}: out/{name} is {got[1]}x{got[2]}, expected {w}x{h}")
        if option == "--quality" and got[3] != str(_QUALITY):
            failures.append(f"{option}: out/{name} has JPEG quality {got[3]}, expected {_QUALITY}")
        if option == "--watermark":
            try:
                changed = float(got[4])
            except ValueError:  # compare failed, e.g. the sizes differ (reported above)
                changed = 0.0
            if changed < max(20, w * h // 2000):  # re-encoding alone changes almost no pixel by 8%
                failures.append(
                    f"{option}: out/{name} looks unchanged ({changed:.0f} pixels differ)"
                )
    return failures

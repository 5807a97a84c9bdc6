"""The course's bash lab: test cases for its three scripts and tolerant checks of their output.

Expected figures are computed here in Python from the input data: the generated file, or any
file of the same format (``check-lab --data``). Checks are lenient on layout (separators,
spacing, 1-2 decimals, tie order at a cut-off) and strict on values and on which label a value
stands next to. Each failure message starts with the sub-check it belongs to ("--age 20-30",
"--name longest", ...), which is what partial credit counts (``Case.checks``).
"""

from __future__ import annotations

import base64
import io
import itertools
import re
import shlex
import tarfile
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping

from stackeval.coding import datagen
from stackeval.coding.cases import TRUSTED_TIMEOUT_S, Case, Judgement
from stackeval.errors import ConfigError, GraderError
from stackeval.sandbox import ExecResult, Sandbox

_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_SEPARATORS = re.compile(r"[\s,;|]+")
_PCT_TOLERANCE = 0.05 + 1e-6  # a percentage printed with one or two decimals

Data = str | bytes


def bash_cases(checker: str, script_name: str, script: str, data: Data | None = None) -> list[Case]:
    """The cases of one bash lab task (``checker`` is the task's ``test`` field).

    ``data`` replaces the generated input file of ``worldcup`` and ``weblog``; the expected
    figures are computed from whichever file the script reads.
    """
    builders: dict[str, Callable[..., list[Case]]] = {
        "worldcup": _worldcup,
        "weblog": _weblog,
        "imgproc": _imgproc,
    }
    if checker not in builders:
        raise ConfigError(f"unknown bash lab checker {checker!r}; known: {', '.join(builders)}")
    if data is None:
        return builders[checker](script_name, script)
    if checker not in DATA_FILES:
        raise ConfigError(f"{checker} builds its own input; a data file is for worldcup and weblog")
    return builders[checker](script_name, script, data)


# the input file each data-driven task reads, by checker
DATA_FILES = {"worldcup": datagen.WORLDCUP_FILE, "weblog": datagen.WEBLOG_FILE}


# ---- shared checks ------------------------------------------------------------------------


def _numbers(text: str) -> list[float]:
    return [float(n) for n in _NUMBER.findall(text)]


def _exit_ok(result: ExecResult) -> list[str]:
    if result.exit_code not in (0, None):
        tail = result.stderr.strip().splitlines()[-1:] or ["(no stderr)"]
        return [f"exit status {result.exit_code}: {tail[0][:200]}"]
    return []


def _help_case(script_name: str, files: dict[str, Data], options: Iterable[str]) -> Case:
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


def _row(
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
        numbers = _numbers(text)
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
    for raw in re.split(r"[\s|]+", line):
        token = raw.strip("'\"()[]{}<>")
        for candidate in (token, token.rstrip(",;:"), token.rstrip(",;:.")):
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


def _word(text: str) -> str:
    """A pattern for ``text`` standing on its own: not part of a longer word or name."""
    return rf"(?<!\w){re.escape(text)}(?!\w)"


def _name_absent(text: str, names: Iterable[str]) -> str | None:
    """The first of ``names`` that ``text`` prints on its own (not inside a longer name)."""
    for name in names:
        if re.search(_word(name), text):
            return name
    return None


# ---- reading a data file --------------------------------------------------------------------


def _records(data: Data, columns: Mapping[str, int], what: str) -> list[tuple[int, dict[str, str]]]:
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
    for number, rec in _records(data, {"position": 4, "age": 5, "player": 8}, "World Cup file"):
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


def _worldcup(script_name: str, script: str, data: Data | None = None) -> list[Case]:
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
                _row(lines, f"{option} {label}", patterns[label], n, 100 * n / total,
                     patterns.values())
                for label, n in counts.items()
            ]
            return _exit_ok(result) + [f for f in found if f]

        return Case(option, files, argv(option), verify,
                    checks=tuple(f"{option} {label}" for label in counts))

    def positions() -> Case:
        """One line per position as written; a foreign spelling may instead be merged into its
        English name (one line for both), never both."""
        counts = Counter(position for position, _, _ in players)
        patterns = {p: _word(p) for p in counts}
        aliases = {
            a: e for a, e in datagen.FOREIGN_POSITIONS.items() if a in counts and e in counts
        }

        def verify(result: ExecResult) -> list[str]:
            lines = result.stdout.splitlines()

            def row(position: str, n: int) -> str | None:
                return _row(lines, f"--position {position}", patterns[position], n,
                            100 * n / total, patterns.values())

            own_line = {
                a for a in aliases if any(re.search(patterns[a], ln, re.I) for ln in lines)
            }
            failures = _exit_ok(result)
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
        any_name = re.compile("|".join(_word(n) for n in sorted(set(names), key=len, reverse=True)))

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
            failures = _exit_ok(result)
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
        patterns = [_word(name) for name in expected]

        def verify(result: ExecResult) -> list[str]:
            lines = result.stdout.splitlines()
            failures = _exit_ok(result)
            for name, pattern in zip(expected, patterns, strict=True):
                failure = _row(lines, f"{option} {name}", pattern, age, None, patterns)
                if failure:
                    failures.append(failure)
            others = [n for n in set(names) if not any(n in e for e in expected)]
            extra = _name_absent(result.stdout, sorted(others))
            if extra:
                failures.append(f"{option}: also prints {extra!r}, who is not {age}")
            return failures

        return Case(option, files, argv(option), verify)

    bands = Counter("<20" if a < 20 else "20-30" if a <= 30 else ">30" for a in ages)
    return [
        _help_case(script_name, files, ("--age", "--position", "--name", "--oldest", "--youngest")),
        shares("--age", {b: bands[b] for b in _BANDS}, _BANDS),
        positions(),
        lengths(),
        extremes("--oldest", max(ages)),
        extremes("--youngest", min(ages)),
    ]


# ---- task 3: web access log ---------------------------------------------------------------

_IPV4 = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")


def weblog_requests(data: Data) -> list[tuple[str, str, str]]:
    """(host, url, response) of every request in an access log TSV."""
    columns = {"host": 0, "url": 4, "response": 5}
    return [
        (rec["host"].strip(), rec["url"].strip(), rec["response"].strip())
        for _, rec in _records(data, columns, "web log")
    ]


def _weblog(script_name: str, script: str, data: Data | None = None) -> list[Case]:
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
            return _exit_ok(result) + _top(option, result.stdout.splitlines(), truth, universe, 100)

        return Case(
            option, files, ("bash", script_name, option, *extra, datagen.WEBLOG_FILE), verify
        )

    code_patterns = {code: rf"(?<![\d.]){re.escape(code)}(?![\d.])" for code in statuses}

    def status(result: ExecResult) -> list[str]:
        lines = result.stdout.splitlines()
        found = [
            _row(lines, f"--status {code}", code_patterns[code], n, 100 * n / total,
                 code_patterns.values())
            for code, n in sorted(statuses.items())
        ]
        return _exit_ok(result) + [f for f in found if f]

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
        Case("--status", files, ("bash", script_name, "--status", datagen.WEBLOG_FILE), status,
             checks=tuple(f"--status {code}" for code in sorted(statuses))),
        Case("--4xx", files, ("bash", script_name, "--4xx", datagen.WEBLOG_FILE), client_errors,
             checks=tuple(f"--4xx {code}" for code in sorted(by_code))),
        top("--url", Counter(h for h, u, _ in rows if u == url and h), set(hosts), (url,)),
    ]


# ---- task 1: image processing -------------------------------------------------------------
#
# Two sandbox runs per option. The first runs the candidate's script under a read-only driver
# that builds the input images and sends out/ back as a base64 tar on stdout. Anything that run
# prints could come from the candidate, so it is only data: forging it amounts to writing those
# files. The second run has no candidate code at all: ImageMagick inspects the received files,
# under names the harness chose and with the coder the harness picked from each file's magic
# bytes, and only its lines are read as the description of the images.

_DRIVER = """\
#!/bin/bash
# stackeval's driver (read-only): build the inputs, run the candidate, send back out/
here=$(dirname "$0")
if ! bash "$here/make_images.sh" >/dev/null 2>setup.err; then
  echo "@@SETUP_FAILED $(head -c 500 setup.err | tr '\\n' ' ')"
  exit 90
fi
mkdir -p out
bash @SCRIPT@ "$@" in out </dev/null >candidate.out 2>candidate.err
status=$?
head -c 2000 candidate.err >&2
echo "@@EXIT $status"
echo "@@OUT"
tar -C out -chf - . 2>/dev/null | base64 -w 0
echo
echo "@@END"
exit "$status"
"""
_INSPECT = """\
#!/bin/bash
# stackeval's inspector: describes the images a candidate wrote; no candidate code runs here.
# Each line of list.tsv: our name for the file, the ImageMagick coder to read it with (- for
# none: not an image we accept), and the input image to compare it with (- for none).
here=$(dirname "$0")
if [ "$1" = --watermark ]; then
  bash "$here/make_images.sh" >/dev/null 2>setup.err || { echo "@@SETUP_FAILED"; exit 90; }
fi
while IFS=$'\\t' read -r file coder original; do
  info=UNREADABLE
  diff=
  if [ "$coder" != - ]; then
    info=$(identify -format '%m %w %h %Q' "$coder:out/$file[0]" 2>/dev/null) || info=UNREADABLE
    if [ "$original" != - ]; then
      diff=$(compare -metric AE -fuzz 8% "in/$original" "$coder:out/$file" null: 2>&1 | head -c 100)
    fi
  fi
  echo "@@IMG $file|${info//$'\\n'/ }|${diff//$'\\n'/ }"
done < "$here/list.tsv"
"""
_REPLY = re.compile(r"\A@@EXIT (\d{1,3})\n@@OUT\n([A-Za-z0-9+/=]*)\n@@END\n\Z")
_MAX_FILES = 200
_QUALITY, _SIZE, _PREFIX, _SUFFIX, _WATERMARK = 50, 100, "new_", "_v2", "stackeval"


def _imgproc(script_name: str, script: str) -> list[Case]:
    files = {script_name: script}
    harness = {
        "driver.sh": _DRIVER.replace("@SCRIPT@", shlex.quote(script_name)),
        "make_images.sh": datagen.IMAGE_SETUP,
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
        def judge(result: ExecResult, sandbox: Sandbox) -> Judgement:
            return _judge_images(option, result, sandbox, expected[option])

        return Case(
            option,
            files,
            ("bash", "/harness/driver.sh", option, *args[option]),
            harness=harness,
            keep_stdout=True,
            judge=judge,
        )

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


def _judge_images(
    option: str, result: ExecResult, sandbox: Sandbox, expected: dict[str, tuple[str, int, int]]
) -> Judgement:
    """Read back what the script wrote (untrusted data), then inspect it in a trusted run."""
    if result.killed_reason is not None:
        return Judgement([f"{option}: stopped by the sandbox: {result.killed_reason}"], True)
    if result.stdout.startswith("@@SETUP_FAILED"):
        return Judgement(
            [f"{option}: building the test images failed in the sandbox: {result.stdout[:300]}"],
            crashed=True,
        )
    reply = _REPLY.match(result.stdout) if not result.truncated else None
    if reply is None:
        return Judgement(
            [f"{option}: the driver's reply is malformed (cut off, or written into)"], True
        )
    status = int(reply.group(1))
    try:
        written = _untar(base64.b64decode(reply.group(2), validate=True))
    except (ValueError, tarfile.TarError, EOFError) as exc:
        return Judgement([f"{option}: out/ could not be read back: {exc}"], crashed=True)
    wanted = [name for name in expected if name in written]
    described = _inspect(option, {name: written[name] for name in wanted}, sandbox)
    failures = _verify_images(option, status, result.stderr, sorted(written), described, expected)
    return Judgement(failures, crashed=status != 0)


def _untar(data: bytes) -> dict[str, bytes]:
    """The regular files at the top of a tar archive, by name."""
    files: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as archive:
        for i, member in enumerate(archive):
            if i >= _MAX_FILES:
                break
            name = member.name.removeprefix("./")
            if member.isfile() and name and "/" not in name:
                extracted = archive.extractfile(member)
                if extracted is not None:
                    files[name] = extracted.read()
    return files


def _coder(data: bytes) -> str:
    """The ImageMagick coder for ``data`` by its magic bytes; "-" for anything else."""
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if re.search(rb"<svg[\s>]", data[:4096]):
        return "svg"
    return "-"


def _inspect(option: str, images: dict[str, bytes], sandbox: Sandbox) -> dict[str, list[str]]:
    """name -> [format, width, height, quality, changed pixels], from a run without candidate
    code; a file it could not describe is missing or UNREADABLE."""
    if not images:
        return {}
    names = list(images)
    listing = "".join(
        f"{i}\t{_coder(images[name])}\t"
        f"{name if option == '--watermark' and name in datagen.IMAGES else '-'}\n"
        for i, name in enumerate(names)
    )
    result = sandbox.run(
        {f"out/{i}": images[name] for i, name in enumerate(names)},
        ("bash", "/harness/inspect.sh", option),
        timeout_s=TRUSTED_TIMEOUT_S,
        harness={
            "inspect.sh": _INSPECT,
            "make_images.sh": datagen.IMAGE_SETUP,
            "list.tsv": listing,
        },
    )
    if result.stdout.startswith("@@SETUP_FAILED"):  # no candidate code ran: our problem
        raise GraderError(f"building the test images failed in the sandbox: {result.stderr[-300:]}")
    described: dict[str, list[str]] = {}
    for line in result.stdout.splitlines():
        if line.startswith("@@IMG "):
            index, info, diff = (line[6:].split("|") + ["", ""])[:3]
            if index.isdigit() and int(index) < len(names):
                described[names[int(index)]] = info.split() + [diff.strip()]
    return described


def _shown(name: str) -> str:
    return name if name.isprintable() else repr(name)


def _verify_images(
    option: str,
    status: int,
    stderr: str,
    written: list[str],
    found: dict[str, list[str]],
    expected: dict[str, tuple[str, int, int]],
) -> list[str]:
    failures = (
        []
        if status == 0
        else [
            f"{option}: exit status {status}: "
            f"{(stderr.strip().splitlines() or [''])[-1][:200]}"
        ]
    )
    for name, (fmt, w, h) in expected.items():
        if name not in written:
            failures.append(
                f"{option}: out/{name} was not written "
                f"(found: {', '.join(map(_shown, written)) or 'nothing'})"
            )
            continue
        got = found.get(name, ["UNREADABLE"])
        if got[0] == "UNREADABLE" or len(got) < 5:
            failures.append(f"{option}: out/{name} is not a readable image")
            continue
        if got[0] != fmt:
            failures.append(f"{option}: out/{name} is {got[0]}, expected {fmt}")
        if not (got[1].isdigit() and got[2].isdigit()):
            failures.append(f"{option}: out/{name} has no size")
        elif abs(int(got[1]) - w) > 1 or abs(int(got[2]) - h) > 1:
            failures.append(f"{option}: out/{name} is {got[1]}x{got[2]}, expected {w}x{h}")
        if option == "--quality" and got[3] != str(_QUALITY):
            failures.append(f"{option}: out/{name} has JPEG quality {got[3]}, expected {_QUALITY}")
        if option == "--watermark":
            number = re.match(r"[0-9.]+(?:[eE][+-]?\d+)?", got[4])
            changed = float(number.group()) if number else 0.0  # compare failed: sizes differ
            if changed < max(20, w * h // 2000):  # re-encoding alone changes almost no pixel by 8%
                failures.append(
                    f"{option}: out/{name} looks unchanged ({changed:.0f} pixels differ)"
                )
    return failures

"""The bash lab's data and checkers without a sandbox: the generated file has the course file's
traits, the checks read any file of the format, bind values to their labels, and split into
sub-checks for partial credit; the report shows the partial scores."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import pytest

from stackeval.coding import bashlab, datagen
from stackeval.coding.bashlab.weblog import _IPV4, weblog_requests
from stackeval.coding.bashlab.worldcup import worldcup_players
from stackeval.coding.cases import Case, check_verdicts
from stackeval.coding.checkers import CodeRun
from stackeval.errors import ConfigError
from stackeval.records import Outcome
from stackeval.report import build_comparison
from stackeval.sandbox import ExecResult

RECORDED_RUN = Path(__file__).parent / "transcripts" / "report-run"


def _result(stdout: str, exit_code: int = 0) -> ExecResult:
    return ExecResult(exit_code=exit_code, stdout=stdout, stderr="", timed_out=False,
                      duration_s=0.1)


def _case(checker: str, option: str, data: str | bytes | None = None) -> Case:
    script = "weblog.sh" if checker == "weblog" else "worldcup.sh"
    return next(c for c in bashlab.bash_cases(checker, script, "", data) if c.name == option)


def _failed(case: Case, stdout: str) -> list[str]:
    """The sub-checks of ``case`` that fail on ``stdout``."""
    return [name for name, ok in check_verdicts(case, case.verify(_result(stdout))) if not ok]


# ---- the generated World Cup file has the real file's traits --------------------------------


def test_worldcup_data_has_the_course_files_traits() -> None:
    text = datagen.worldcup_tsv()
    lines = text.splitlines()
    assert all(line.count("\t") == 11 and line.endswith("\t\t") for line in lines)  # 2 empty
    players = worldcup_players(text)
    assert len(players) == 736
    raw_names = [line.split("\t")[8] for line in lines[1:]]
    names = [name for _, _, name in players]
    assert sum(name != name.rstrip() for name in raw_names) >= 10  # blanks after names
    assert sum(not name.isascii() for name in names) > 50  # accents, e.g. "Kô"-like names
    assert any(len(n) == 2 and not n.isascii() for n in names)
    assert any(count > 1 for count in Counter(names).values())  # namesakes
    positions = Counter(p for p, _, _ in players)
    assert set(positions) == {*datagen.POSITIONS, "Défenseur"} and positions["Défenseur"] == 1
    lengths = [len(n) for n in names]
    ages = [a for _, a, _ in players]
    for extreme in (max(lengths), min(lengths)):  # ties on every extreme
        tied = [n for n in names if len(n) == extreme]
        assert len(tied) >= 2 and any(not n.isascii() for n in tied)
        assert any(n.isascii() for n in tied)  # byte counts would split the tie
    assert ages.count(max(ages)) >= 2 and ages.count(min(ages)) >= 2
    oldest = {n for _, a, n in players if a == max(ages)}
    assert any(names.count(n) > 1 for n in oldest)  # a name-keyed table loses an oldest player
    # an unstripped name would look longest
    assert max(len(n) for n in raw_names) > max(lengths)


def test_weblog_data_has_the_course_logs_traits() -> None:
    rows = weblog_requests(datagen.weblog_tsv())
    hosts = Counter(h for h, _, _ in rows)
    top = [h for h, _ in hosts.most_common(10)]
    assert any(_IPV4.fullmatch(h) for h in top)
    assert any(h[0].isdigit() and not _IPV4.fullmatch(h) for h in top)  # a trap
    assert any("?" in u and "," in u for _, u, _ in rows)
    assert "-" in {row[6] for row in datagen.weblog_rows()}  # bytes "-"


# ---- any data file of the format ------------------------------------------------------------

# the real file's shape: header and lines with two empty trailing columns, CRLF, a BOM
MINI = (
    "\ufeffGroup\tCountry\tRank\tJersey\tPosition\tAge\tSelections\tClub\tPlayer\tCaptain\t\t\r\n"
    "A\tBrazil\t3\t9\tForward\t27\t20\tFluminense\tJô \t0\t\t\r\n"
    "A\tBrazil\t3\t1\tGoalie\t34\t70\tToronto\tJúlio César\t0\t\t\r\n"
    "A\tCroatia\t18\t5\tDéfenseur\t19\t2\tDinamo\tLuka Ab\t0\t\t\r\n"
    "B\tChile\t14\t8\tDefender\t34\t40\tNapoli\tMauricio Isla\t0\t\t\r\n"
    "B\tChile\t14\t2\tMidfielder\t19\t3\tLeverkusen\tJo\t0\t\t\r\n"
)


def test_checks_take_any_data_file() -> None:
    data = MINI.encode()
    age = _case("worldcup", "--age", data)
    assert age.files[datagen.WORLDCUP_FILE] == data  # the script reads the very same bytes
    assert _failed(age, "<20\t2\t40.00%\n20-30\t1\t20.00%\n>30\t2\t40.00%\n") == []
    name = _case("worldcup", "--name", data)
    right = "longest\tMauricio Isla\nshortest\tJô\nshortest\tJo\n"
    assert _failed(name, right) == []
    # in bytes "Júlio César" ties with "Mauricio Isla" (13) and "Jô" (3) is longer than "Jo"
    in_bytes = "longest\tJúlio César\nlongest\tMauricio Isla\nshortest\tJo\n"
    assert _failed(name, in_bytes) == ["--name longest", "--name shortest"]
    oldest = _case("worldcup", "--oldest", data)
    assert _failed(oldest, "Júlio César 34\nMauricio Isla 34\n") == []
    assert _failed(oldest, "Mauricio Isla 34\n") == ["--oldest"]  # a tie ignored


def test_a_data_file_that_cannot_be_read_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="not UTF-8"):
        bashlab.bash_cases("worldcup", "w.sh", "", MINI[1:].encode("latin-1"))
    with pytest.raises(ConfigError, match="line 2: the age 'old' is not a number"):
        bashlab.bash_cases("worldcup", "w.sh", "", MINI.replace("\t27\t", "\told\t"))
    with pytest.raises(ConfigError, match="line 3: no player"):
        bashlab.bash_cases("worldcup", "w.sh", "", MINI.replace("Júlio César", " "))
    with pytest.raises(ConfigError, match="no data lines"):
        bashlab.bash_cases("weblog", "w.sh", "", "host\turl\n")
    with pytest.raises(ConfigError, match="builds its own input"):
        bashlab.bash_cases("imgproc", "i.sh", "", "x")


# ---- labels, not just values ----------------------------------------------------------------


def _reference_lines(option: str) -> dict[str, str]:
    players = worldcup_players(datagen.worldcup_tsv())
    lengths = {n: len(n) for _, _, n in players}
    longest = sorted({n for n, k in lengths.items() if k == max(lengths.values())})
    shortest = sorted({n for n, k in lengths.items() if k == min(lengths.values())})
    return {"longest": longest, "shortest": shortest}[option]


def test_name_labels_are_checked() -> None:
    case = _case("worldcup", "--name")
    longest, shortest = _reference_lines("longest"), _reference_lines("shortest")
    right = "".join(f"longest\t{n}\n" for n in longest) + "".join(
        f"shortest\t{n}\n" for n in shortest)
    assert _failed(case, right) == []
    swapped = right.replace("longest", "TMP").replace("shortest", "longest").replace(
        "TMP", "shortest")
    assert _failed(case, swapped) == ["--name longest", "--name shortest"]
    failures = case.verify(_result(swapped))
    assert any("printed as shortest" in f for f in failures), failures
    unlabelled = "".join(f"{n}\n" for n in longest + shortest)
    assert _failed(case, unlabelled) == ["--name longest", "--name shortest"]
    # other layouts with the labels are fine: headings, Chinese, all on one line
    headings = "Longest name(s):\n" + "\n".join(longest) + "\nShortest:\n" + "\n".join(shortest)
    assert _failed(case, headings) == []
    chinese = f"最长的名字：{'，'.join(longest)}\n最短的名字：{'，'.join(shortest)}\n"
    assert _failed(case, chinese) == []
    one_line = f"longest: {', '.join(longest)}; shortest: {', '.join(shortest)}\n"
    assert _failed(case, one_line) == []
    # one sub-check right, the other not: partial credit
    half = "".join(f"longest\t{n}\n" for n in longest) + f"shortest\t{shortest[0]}\n"
    assert _failed(case, half) == ["--name shortest"]


def test_age_bands_bind_numbers_to_their_label() -> None:
    case = _case("worldcup", "--age")
    ages = [a for _, a, _ in worldcup_players(datagen.worldcup_tsv())]
    n = len(ages)
    young, mid, old = (sum(1 for a in ages if a < 20), sum(1 for a in ages if 20 <= a <= 30),
                       sum(1 for a in ages if a > 30))

    def line(label: str, k: int) -> str:
        return f"{label}\t{k}\t{100 * k / n:.2f}%\n"

    assert _failed(case, line("<20", young) + line("20-30", mid) + line(">30", old)) == []
    assert _failed(case, line("<20", old) + line("20-30", mid) + line(">30", young)) == [
        "--age <20", "--age >30"]
    one_line = (f"<20: {young} ({100 * young / n:.1f}%), 20-30: {mid} ({100 * mid / n:.1f}%), "
                f">30: {old} ({100 * old / n:.1f}%)\n")
    assert _failed(case, one_line) == []
    swapped_one_line = one_line.replace(f"<20: {young}", "<20: X").replace(
        f">30: {old}", f">30: {young}").replace("<20: X", f"<20: {old}")
    assert "--age <20" in _failed(case, swapped_one_line)
    counted_first = f"{young} <20 {100 * young / n:.2f}%\n"  # uniq -c style
    assert "--age <20" not in _failed(case, counted_first)


def test_a_foreign_position_may_stand_alone_or_be_merged_but_not_both() -> None:
    case = _case("worldcup", "--position")
    counts = Counter(p for p, _, _ in worldcup_players(datagen.worldcup_tsv()))
    total = sum(counts.values())

    def out(rows: dict[str, int]) -> str:
        return "".join(f"{p}\t{k}\t{100 * k / total:.2f}%\n" for p, k in rows.items())

    assert _failed(case, out(counts)) == []
    merged = {p: k for p, k in counts.items() if p != "Défenseur"}
    merged["Defender"] += counts["Défenseur"]
    assert _failed(case, out(merged)) == []
    assert _failed(case, out({**merged, "Défenseur": 1})) == ["--position Defender"]
    dropped = {p: k for p, k in counts.items() if p != "Défenseur"}
    assert _failed(case, out(dropped)) == ["--position Défenseur"]


def test_weblog_top_lists_read_urls_with_commas_and_status_labels() -> None:
    rows = weblog_requests(datagen.weblog_tsv())
    urls = Counter(u for _, u, _ in rows)
    case = _case("weblog", "--top-urls")
    listing = "".join(f"{u}\t{k}\n" for u, k in urls.most_common(100))
    assert _failed(case, listing) == []
    assert _failed(case, listing.replace("?", ",", 1)) == ["--top-urls"]
    status = _case("weblog", "--status")
    codes = Counter(c for _, _, c in rows)
    lines = {c: f"{c}\t{k}\t{100 * k / len(rows):.2f}%\n" for c, k in codes.items()}
    assert _failed(status, "".join(lines.values())) == []
    assert status.checks == tuple(f"--status {c}" for c in sorted(codes))
    assert _failed(status, "".join(v for c, v in lines.items() if c != "404")) == [
        "--status 404"]


# ---- sub-check verdicts and partial credit ----------------------------------------------------


def test_check_verdicts_attribute_failures_to_sub_checks() -> None:
    case = Case("--age", {}, ("true",), lambda r: [],
                checks=("--age <20", "--age 20-30", "--age >30"))
    assert check_verdicts(case, []) == [("--age <20", True), ("--age 20-30", True),
                                        ("--age >30", True)]
    assert check_verdicts(case, ["--age 20-30: expected 5"]) == [
        ("--age <20", True), ("--age 20-30", False), ("--age >30", True)]
    # an exit status or a message naming no sub-check fails them all, as does a timeout
    assert not any(ok for _, ok in check_verdicts(case, ["exit status 1: boom"]))
    assert not any(ok for _, ok in check_verdicts(case, [], whole=True))
    plain = Case("--oldest", {}, ("true",), lambda r: [])
    assert check_verdicts(plain, ["--oldest Jô: no line for it"]) == [("--oldest", False)]


def test_code_run_partial_score_is_recorded() -> None:
    run = CodeRun(Outcome.WRONG, "wrong", checks=(("--help", True), ("--age <20", False),
                                                      ("--age >30", True), ("--name", True)))
    assert run.partial == 0.75
    record = json.loads(json.dumps(run.to_dict()))
    assert record["partial"] == 0.75 and record["checks"]["--age <20"] is False
    assert CodeRun(Outcome.PASS, "ok").partial == 1.0
    assert CodeRun(Outcome.NO_CODE, "none").partial == 0.0


def test_report_shows_partial_scores_per_model(tmp_path: Path) -> None:
    run = Path(shutil.copytree(RECORDED_RUN, tmp_path / "runs" / RECORDED_RUN.name))
    models = ["small", "big"]
    with open(run / "coding.jsonl", "w") as f:
        for model, samples in (
            ("small", [{"--help": True, "--age <20": False, "--name longest": False}, None]),
            ("big", [{"--help": True, "--age <20": True, "--name longest": False},
                     {"--help": True, "--age <20": True, "--name longest": True}]),
        ):
            for i, checks in enumerate(samples):
                done = checks is not None and all(checks.values())
                f.write(json.dumps({
                    "model": model, "task_id": "bashlab/worldcup", "suite": "bashlab",
                    "lang": "en", "sample": i, "outcome": "pass" if done else (
                        "wrong_answer" if checks else "no_code"), "passed": done,
                    "run": {"checks": checks or {}}}) + "\n")
    files = build_comparison(run, tmp_path / "out", None)
    small, big = (files.report.coding[m].partial["bashlab/worldcup"] for m in models)
    assert small.mean == pytest.approx((1 / 3 + 0) / 2)  # no code: every sub-check failed
    assert big.mean == pytest.approx((2 / 3 + 1) / 2)
    assert small.checks["--help"].passed == 1 and small.checks["--help"].total == 2
    md = files.markdown.read_text(encoding="utf-8")
    assert "Partial credit" in md and "bashlab/worldcup: samples that passed" in md
    row = next(line for line in md.splitlines() if line.startswith("| --age <20"))
    assert "0/2" in row and "2/2" in row

"""``python -m stackeval check-lab``: a student's own script, checked sub-check by sub-check in
the bubblewrap sandbox, on the generated data or a file of their own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from stackeval.cli import main
from stackeval.coding import datagen
from stackeval.coding.tasks import load_bashlab
from stackeval.errors import SandboxError
from stackeval.sandbox import BwrapSandbox

REFERENCE = Path(__file__).resolve().parents[1] / "fixtures" / "coding" / "bashlab" / "reference"


@pytest.fixture(scope="module", autouse=True)
def bwrap() -> None:
    try:
        BwrapSandbox().probe()
    except SandboxError as exc:
        # In CI a missing tool is a broken setup, not a reason to skip.
        if os.environ.get("CI"):
            pytest.fail(f"bubblewrap is not usable in CI (.ci/run must install it): {exc}")
        pytest.skip(f"bubblewrap not usable here: {exc}")


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("data")
    (folder / datagen.WORLDCUP_FILE).write_text(datagen.worldcup_tsv(), encoding="utf-8")
    (folder / datagen.WEBLOG_FILE).write_text(datagen.weblog_tsv(), encoding="utf-8")
    return folder


def _check(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str], str]:
    code = main(["check-lab", *args, "--sandbox", "bwrap"])
    out, err = capsys.readouterr()
    return code, out.splitlines(), err


def test_the_reference_passes_on_data_with_every_trait(capsys, data) -> None:
    code, lines, _ = _check(capsys, "worldcup", str(REFERENCE / "worldcup.sh"),
                            "--data", str(data / datagen.WORLDCUP_FILE))
    assert code == 0, lines
    assert lines[0].startswith("check-lab worldcup:") and "bwrap sandbox" in lines[0]
    verdicts = [line for line in lines if line.startswith(("PASS", "FAIL"))]
    assert len(verdicts) == 14 and all(v.startswith("PASS") for v in verdicts)
    assert "PASS  --position Défenseur" in lines and "PASS  --name shortest" in lines
    assert lines[-1] == "14/14 sub-checks passed (100%)"


def test_a_wrong_script_fails_with_its_reasons(capsys, data, tmp_path) -> None:
    reference = (REFERENCE / "worldcup.sh").read_text(encoding="utf-8")
    swapped = reference.replace('print "longest\\t"', 'print "TMP\\t"')
    swapped = swapped.replace('print "shortest\\t"', 'print "longest\\t"')
    swapped = swapped.replace('print "TMP\\t"', 'print "shortest\\t"')
    assert swapped != reference
    script = tmp_path / "mine.sh"
    script.write_text(swapped, encoding="utf-8")
    code, lines, _ = _check(capsys, "worldcup", str(script),
                            "--data", str(data / datagen.WORLDCUP_FILE))
    assert code == 1
    failed = [line for line in lines if line.startswith("FAIL")]
    assert [f.split(":")[0] for f in failed] == ["FAIL  --name longest", "FAIL  --name shortest"]
    assert "printed as shortest" in failed[0]
    assert lines[-1] == "12/14 sub-checks passed (86%)"


def test_a_students_own_data_file(capsys, tmp_path) -> None:
    # the real file's shape, small: two empty columns, CRLF, a BOM, blanks after a name
    rows = [
        ("A", "Brazil", "3", "9", "Forward", "27", "20", "Fluminense", "Jô ", "0"),
        ("A", "Brazil", "3", "1", "Goalie", "34", "70", "Toronto", "Júlio César", "0"),
        ("A", "Croatia", "18", "5", "Défenseur", "19", "2", "Dinamo", "Luka Ab", "0"),
        ("B", "Chile", "14", "8", "Defender", "34", "40", "Napoli", "Mauricio Isla", "0"),
        ("B", "Chile", "14", "2", "Midfielder", "19", "3", "Leverkusen", "Jo", "0"),
    ]
    text = "\ufeff" + datagen.to_tsv(datagen.WORLDCUP_COLUMNS, tuple(rows), extra=2)
    path = tmp_path / "players.tsv"
    path.write_bytes(text.replace("\n", "\r\n").encode())
    code, lines, _ = _check(capsys, "worldcup", str(REFERENCE / "worldcup.sh"),
                            "--data", str(path))
    assert code == 0, lines
    assert "PASS  --position Défenseur" in lines and lines[-1].startswith("14/14")


def test_weblog_and_the_generated_default(capsys) -> None:
    code, lines, _ = _check(capsys, "weblog", str(REFERENCE / "weblog.sh"))
    assert code == 0, lines
    assert "on the generated data" in lines[0] and "PASS  --4xx 404" in lines


def test_imgproc(capsys, tmp_path) -> None:
    if not Path("/usr/bin/convert").exists():
        if os.environ.get("CI"):
            pytest.fail("ImageMagick is missing in CI (.ci/run must install it)")
        pytest.skip("ImageMagick is not installed")
    code, lines, _ = _check(capsys, "imgproc", str(REFERENCE / "imgproc.sh"))
    assert code == 0, lines
    script = tmp_path / "half.sh"
    script.write_text("#!/bin/bash\necho 'usage: --quality --resize --watermark --prefix "
                      "--suffix --to-jpg'\n", encoding="utf-8")
    code, lines, _ = _check(capsys, "imgproc", str(script))
    assert code == 1 and "PASS  --help" in lines and "PASS  --help exit status" in lines
    assert lines[-1].startswith("2/8")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["worldcup", "missing.sh"], "no such script: missing.sh"),
        (["worldcup", "REF", "--data", "missing.tsv"], "no such data file: missing.tsv"),
        (["imgproc", "REF", "--data", "REF"],
         "imgproc builds its own test images; --data is for worldcup and weblog"),
    ],
    ids=["no-script", "no-data", "imgproc-data"],
)
def test_errors_are_one_line_and_exit_2(capsys, args, message) -> None:
    args = [str(REFERENCE / "worldcup.sh") if a == "REF" else a for a in args]
    code, lines, err = _check(capsys, *args)
    assert code == 2 and lines == []
    assert err.strip().splitlines() == [f"stackeval: error: {message}"], err


def test_module_entry_point(data) -> None:
    # the documented command, end to end in a fresh interpreter
    done = subprocess.run(
        [sys.executable, "-m", "stackeval", "check-lab", "worldcup", "/nonexistent.sh"],
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "no such script: /nonexistent.sh" in done.stderr
    assert {t.test for t in load_bashlab()} == {"worldcup", "weblog", "imgproc"}


def test_a_full_usage_that_exits_1_earns_the_usage_sub_check_only(capsys, data, tmp_path) -> None:
    reference = (REFERENCE / "worldcup.sh").read_text(encoding="utf-8")
    script = tmp_path / "mine.sh"
    # the commonest model mistake: every option listed, then exit 1
    exits_1 = reference.replace("-h | --help) usage; exit 0 ;;", "-h | --help) usage; exit 1 ;;")
    assert exits_1 != reference
    script.write_text(exits_1, encoding="utf-8")
    code, lines, _ = _check(capsys, "worldcup", str(script),
                            "--data", str(data / datagen.WORLDCUP_FILE))
    assert code == 1
    failed = [line.split(":")[0] for line in lines if line.startswith("FAIL")]
    assert failed == ["FAIL  --help exit status"], lines
    assert "PASS  --help" in lines

"""The two HTML reports as a person sees them, in headless Chromium (Debian ``chromium``).

The Allure page is checked for test names, an attachment, failure categories and history; the
comparison page for its tables and charts and a screenshot that is not blank. The last test does
it all from a real Q&A run on the embedded stack.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from stackeval.report import allure, build_comparison

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
RECORDED_RUN = Path(__file__).parent / "transcripts" / "report-run"
UI_TIMEOUT_MS = 60_000  # a loaded 2-core CI machine renders the 3.6 MB Allure page slowly
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]


def _need(ok: bool, what: str) -> None:
    # In CI a missing tool is a broken setup, not a reason to skip.
    if not ok:
        if os.environ.get("CI"):
            pytest.fail(f"{what} is missing in CI (.ci/run must install it)")
        pytest.skip(f"{what} is not installed")


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Headless Debian Chromium driven by Playwright; never a downloaded browser."""
    _need(CHROMIUM.exists(), "Debian chromium (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS[1:])
        yield b
        b.close()


EXTERNAL: dict[int, list[str]] = {}  # id(page) -> URLs it tried to reach off this machine


def _route(route, blocked: list[str]) -> None:
    # Offline by design: anything but the local file is refused, not fetched, and noted.
    if route.request.url.startswith(("file:", "data:", "blob:")):
        route.continue_()
    else:
        blocked.append(route.request.url)
        route.abort()


def _page(browser: object, url: str):  # -> playwright Page
    page = browser.new_page(viewport={"width": 1300, "height": 1000})  # type: ignore[attr-defined]
    blocked = EXTERNAL[id(page)] = []
    page.route("**/*", lambda r: _route(r, blocked))
    page.goto(url)
    return page


def assert_not_blank(png: Path, min_colors: int = 64, min_ink: float = 0.03) -> None:
    """A screenshot with real content: many colours and a share of non-white pixels."""
    from PIL import Image

    img = Image.open(png).convert("RGB")
    colors = img.getcolors(maxcolors=1 << 20) or []
    ink = sum(n for n, c in colors if sum(c) < 3 * 235) / (img.width * img.height)
    assert len(colors) >= min_colors and ink >= min_ink, (
        f"{png} looks blank: {len(colors)} colours, {ink:.1%} non-white")


# -- Allure ------------------------------------------------------------------------------------

# One test per failure class the categories tell apart; attachments as the evals add them.
KINDS_OF_FAILURE = """
    import allure
    import pytest
    from stackeval.errors import RequestTimeout, SandboxError, ServerError

    def _answer(text):
        allure.attach(text, name="answer", attachment_type=allure.attachment_type.TEXT)

    def test_right_answer():
        _answer("Paris")

    def test_wrong_answer():
        _answer("Berlin")
        assert False, "capital-en (geography): 0/1 attempts passed\\n[wrong_answer] expected Paris"

    @pytest.fixture
    def timed_out():
        raise RequestTimeout("no answer from http://127.0.0.1:1/v1 within 120 s")

    def test_timeout(timed_out):
        pass

    def test_server_error():
        raise ServerError("HTTP 503 after 2 retries")

    def test_sandbox_violation():
        raise SandboxError("program killed: output_limit")
"""


@pytest.fixture(scope="module")
def allure_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Allure results of a pytest session with one test per failure class."""
    root = tmp_path_factory.mktemp("allure-src")
    (root / "test_kinds.py").write_text(textwrap.dedent(KINDS_OF_FAILURE))
    (root / "conftest.py").write_text(
        '"""The stackeval plugin comes from its pytest11 entry point."""\n')
    results = root / "reports" / "allure-results"
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                    "--rootdir", str(root), "--reports-dir", str(root / "reports"),
                    "--alluredir", str(results), "--models", "smollm2:135m", str(root)],
                   cwd=root, capture_output=True, check=False, timeout=120)
    assert list(results.glob("*-result.json")), "the pytest session wrote no Allure results"
    return results


@pytest.fixture(scope="module")
def allure_report(allure_results: Path) -> Path:
    _need((REPO / "node_modules" / ".bin" / "allure").exists(), "Allure 3 (npm ci)")
    return allure.generate(allure_results, allure_results.parent / "allure-report",
                           run_id="run-1", root=REPO)


def _open_test(page, url: str, name: str) -> None:
    """Load the report afresh and open one test's page from the tree."""
    page.goto(url)
    page.get_by_text(name, exact=True).first.click(timeout=UI_TIMEOUT_MS)


def test_allure_page_lists_tests_attachments_and_categories(browser, allure_report, tmp_path):
    url = allure_report.as_uri()
    page = _page(browser, url)
    for name in ("test_right_answer", "test_wrong_answer", "test_timeout", "test_server_error",
                 "test_sandbox_violation"):
        page.get_by_text(name, exact=True).first.wait_for(timeout=UI_TIMEOUT_MS)
    assert "stackeval run run-1" in page.inner_text("body")
    assert EXTERNAL[id(page)] == []  # no analytics or fonts fetched from the internet
    page.screenshot(path=str(tmp_path / "allure-overview.png"))
    assert_not_blank(tmp_path / "allure-overview.png")
    expected = {"test_wrong_answer": "Wrong answer", "test_timeout": "Timeout",
                "test_server_error": "Server error", "test_sandbox_violation": "Sandbox violation"}
    for test, category in expected.items():
        _open_test(page, url, test)
        page.get_by_text(f"Category: {category}").first.wait_for(timeout=UI_TIMEOUT_MS)
    _open_test(page, url, "test_right_answer")
    page.get_by_text("answer", exact=True).first.wait_for(timeout=UI_TIMEOUT_MS)  # attachment
    assert "text/plain" in page.inner_text("body")
    page.close()


def test_allure_metadata_shows_executor_and_environment(browser, allure_report):
    page = _page(browser, allure_report.as_uri())
    page.get_by_text("Metadata").first.wait_for(timeout=UI_TIMEOUT_MS)
    if page.get_by_text("Show more").count():
        page.get_by_text("Show more").first.click()
    body = page.inner_text("body")
    for key in ("executor", "stackeval run run-1", "host.cpu", "host.ram_gib", "gpu"):
        assert key in body
    page.close()


def test_allure_history_is_kept_across_runs(allure_results, allure_report):
    history = allure_report.parent.parent / allure.HISTORY_FILE
    first = history.read_text().splitlines()
    assert len(first) == 1 and json.loads(first[0])["name"] == "stackeval run run-1"
    # Regenerating the same run adds no point; a new run does.
    allure.generate(allure_results, allure_report.parent, run_id="run-1", root=REPO)
    assert len(history.read_text().splitlines()) == 1
    allure.generate(allure_results, allure_report.parent, run_id="run-2", root=REPO)
    names = [json.loads(line)["name"] for line in history.read_text().splitlines()]
    assert names == ["stackeval run run-1", "stackeval run run-2"]


# -- comparison page ---------------------------------------------------------------------------


def check_comparison_page(browser, html: Path, shot: Path, models: list[str]) -> str:
    """Open the comparison page and check its tables, charts and look; returns the page text."""
    page = _page(browser, html.as_uri())
    text = page.inner_text("body")
    for heading in ("Findings", "Setup", "Q&A accuracy", "Coding", "Speed", "Token use", "Cost",
                    "Resources"):
        assert heading in text
    assert page.locator("table").count() >= 6
    for model in models:
        assert model in text
    images = page.locator("figure img")
    assert images.count() >= 3
    for i in range(images.count()):  # every chart decoded: a real PNG, not a broken image
        assert images.nth(i).evaluate("img => img.complete && img.naturalWidth > 300")
    page.screenshot(path=str(shot), full_page=True)
    assert_not_blank(shot)
    assert EXTERNAL[id(page)] == []
    page.close()
    return text


def test_comparison_page_from_recorded_run(browser, tmp_path):
    files = build_comparison(RECORDED_RUN, tmp_path / "comparison", REPO / "fixtures/prices.yaml")
    text = check_comparison_page(browser, files.html, tmp_path / "comparison.png",
                                 list(files.report.models))
    assert "Not run: this run has no coding records" in text


# -- end to end --------------------------------------------------------------------------------


@pytest.mark.integration
def test_report_command_after_a_real_qa_run(browser, tmp_path):
    """What a student types: a small Q&A run, then ``stackeval report``; both pages render."""
    _need((REPO / "node_modules" / ".bin" / "allure").exists(), "Allure 3 (npm ci)")
    reports = tmp_path / "reports"
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "evals/test_qa.py", "--models", "smollm2:135m", "-k",
         "strawberry or paris", "--reports-dir", str(reports), "-p", "no:cacheprovider", "-q"],
        cwd=REPO, capture_output=True, text=True, timeout=600, check=False)
    assert run.returncode in (0, 1), run.stdout[-3000:] + run.stderr[-3000:]
    done = subprocess.run([sys.executable, "-m", "stackeval", "report", "--reports-dir",
                           str(reports)], cwd=REPO, capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    (run_dir,) = (reports / "runs").iterdir()
    html = reports / "comparison" / run_dir.name / "report.html"
    assert (html.with_name("report.md")).exists()
    check_comparison_page(browser, html, tmp_path / "comparison.png", ["smollm2:135m"])
    url = (reports / "allure-report" / "index.html").as_uri()
    page = _page(browser, url)
    _open_test(page, url, "test_qa[smollm2:135m-strawberry-r-en]")
    page.get_by_text("verdict", exact=True).first.wait_for(timeout=UI_TIMEOUT_MS)
    body = page.inner_text("body")
    assert "answer" in body and "metrics" in body
    page.close()

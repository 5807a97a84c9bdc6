"""Open WebUI pieces that need neither its venv nor a browser: setup checks, options, the table."""

from __future__ import annotations

from pathlib import Path

import pytest

from stackeval.config import Settings
from stackeval.errors import StackError
from stackeval.stack.base import Endpoint
from stackeval.stack.webui import OFFLINE_ENV, OpenWebUI, installed, stamp
from stackeval.webui.report import format_latency_table, latency_table

pytest_plugins = ["pytester"]
REPO = Path(__file__).resolve().parents[1]


def test_missing_venv_names_the_setup_command(tmp_path):
    ui = OpenWebUI(Settings(reports_dir=tmp_path), Endpoint("http://127.0.0.1:9/v1", "m", "k"),
                   tmp_path / "no-venv")
    with pytest.raises(StackError, match="make webui-setup"):
        ui.start()
    assert not installed(tmp_path / "no-venv")


def test_installed_needs_the_stamp_of_the_pinned_version(tmp_path):
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "open-webui").touch()
    assert not installed(tmp_path)  # an interrupted install has no stamp
    stamp(tmp_path).touch()
    assert installed(tmp_path)


def test_offline_switches():
    assert OFFLINE_ENV["OFFLINE_MODE"] == "true" and OFFLINE_ENV["HF_HUB_OFFLINE"] == "1"
    assert OFFLINE_ENV["RAG_EMBEDDING_MODEL"] == ""  # nothing to download or load at start
    assert OFFLINE_ENV["ENABLE_OLLAMA_API"] == "false"
    assert all(OFFLINE_ENV[k] == "false" for k in OFFLINE_ENV if k.endswith("_AUTO_UPDATE"))


def test_latency_table_orders_paths_outward_and_takes_medians():
    recs = [{"kind": "latency", "model": "m", "via": via, "case_id": "q", "ttft_s": t,
             "e2e_s": e, "output_tokens": 10}
            for via, t, e in [("webui", 0.2, 2.0), ("direct", 0.1, 1.0), ("direct", 0.3, 3.0),
                              ("direct", 0.2, 2.0), ("gateway", 0.15, 1.5), ("browser", 0.5, 4.0)]]
    recs.append({"kind": "qa", "model": "m", "via": "webui"})
    rows = latency_table(recs)
    assert [r["via"] for r in rows] == ["direct", "gateway", "webui", "browser"]
    assert rows[0]["e2e_s"] == 2.0 and rows[0]["n"] == 3
    lines = format_latency_table(rows)
    assert lines[-1].split()[-1] == "2.00x"  # browser E2E over direct E2E


def test_webui_cases_option_selects_questions_in_both_languages(pytester, monkeypatch):
    pytester.makepyfile(test_webui=(REPO / "evals" / "test_webui.py").read_text())
    # The question set is read from fixtures/qa relative to the working directory.
    (pytester.path / "fixtures").symlink_to(REPO / "fixtures")
    only_api = ("--collect-only", "-q", "--models", "smollm2:135m", "-k", "api_qa")
    result = pytester.runpytest(*only_api, "--webui-cases", "strawberry-r")
    result.stdout.fnmatch_lines(["*smollm2:135m-strawberry-r-zh*",
                                 "*smollm2:135m-strawberry-r-en*", "2/* tests collected*"])
    monkeypatch.setenv("STACKEVAL_WEBUI_CASES", "nosuch")
    result = pytester.runpytest(*only_api)
    assert "unknown id nosuch" in result.stdout.str() + result.stderr.str()


def test_missing_venv_is_installed_on_demand_with_a_message(pytester):
    pytester.makeconftest('''
        import pytest
        import stackeval.stack.webui as service
        from stackeval.stack.base import Endpoint

        def fake_install(venv, log_path=None):
            (venv / "bin").mkdir(parents=True)
            (venv / "bin" / "open-webui").touch()
            service.stamp(venv).touch()
            return 1.0

        service.install = fake_install
        service.OpenWebUI.start = lambda self: None

        class FakeStack:
            def models(self):
                return ["m"]

            def endpoint(self, model):
                return Endpoint("http://127.0.0.1:9/v1", model, "k")

        @pytest.fixture(scope="session")
        def stack():
            return FakeStack()
    ''')
    pytester.makepyfile(test_ui="""
        def test_ui(webui):
            assert webui.gateway.base_url == "http://127.0.0.1:9/v1"
    """)
    venv = pytester.path / "ui-venv"
    result = pytester.runpytest("--webui-venv", str(venv), "--models", "smollm2:135m", "-s")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*Open WebUI is not installed in*ui-venv: installing "
                                 "open-webui==*", "*Open WebUI installed in 1 s*"])
    assert installed(venv)

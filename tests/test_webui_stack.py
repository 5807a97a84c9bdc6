"""Open WebUI for real, in front of the embedded stack serving smollm2:135m, API and browser.

Skipped when Open WebUI's venv is not set up (``make webui-setup``); the browser half is also
skipped without Debian's chromium or Playwright.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import httpx
import pytest

from stackeval.client import StreamingClient
from stackeval.config import Settings
from stackeval.models.resolve import resolve_models
from stackeval.records import TokenSource
from stackeval.stack.factory import create_stack
from stackeval.stack.webui import OpenWebUI, installed
from stackeval.webui.browser import CHROMIUM, ChatPage

pytestmark = pytest.mark.integration
MODEL = "smollm2:135m"
VENV = Path(__file__).resolve().parents[1] / ".venv-webui"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The embedded stack with smollm2 loaded and Open WebUI in front of it."""
    if not installed(VENV):
        pytest.skip(f"Open WebUI is not installed in {VENV}: make webui-setup")
    settings = Settings(models=(MODEL,), reports_dir=tmp_path_factory.mktemp("reports"))
    with create_stack(settings, resolve_models(settings.models), progress=False) as stack:
        stack.acquire(MODEL)
        with OpenWebUI(settings, stack.endpoint(MODEL), VENV) as ui:
            pid = ui._proc.pid
            yield stack, ui
    with pytest.raises(OSError):  # stopped on exit
        os.kill(pid, 0)


def test_admin_models_and_chat_api(served):
    stack, ui = served
    assert ui.token and ui.version and ui.start_s < 120
    assert ui.models() == [MODEL]  # read through the gateway; no Ollama, no arena model
    # The first user was the admin; Open WebUI closes sign-up after it.
    again = httpx.post(f"{ui.url}/api/v1/auths/signup", trust_env=False, timeout=30,
                       json={"name": "x", "email": "x@example.com", "password": "x-123456"})
    assert again.status_code in (401, 403), again.text
    question = [{"role": "user", "content": "What is the capital of France?"}]
    with StreamingClient(alive_check=stack.check_alive) as client:
        via_ui = client.chat(ui.endpoint(MODEL), question, max_tokens=24, temperature=0, seed=1)
        via_gateway = client.chat(stack.endpoint(MODEL), question, max_tokens=24, temperature=0,
                                  seed=1)
    assert via_ui.token_source is TokenSource.USAGE  # stream_options pass through
    assert via_ui.text == via_gateway.text  # the same request reaches the model unchanged


def test_browser_signs_in_picks_model_and_reads_answer(served, tmp_path):
    if not CHROMIUM.exists() or importlib.util.find_spec("playwright") is None:
        pytest.skip("needs Debian's chromium and Playwright for Python (.ci/webui.sh)")
    _, ui = served
    with ChatPage(ui.url, timeout_s=120) as page:
        assert page.sign_in(ui.email, ui.password) < 60
        page.new_chat(MODEL)
        answer = page.ask("What is the capital of France? Answer in one word.")
        shot = page.screenshot(tmp_path / "answer.png")
    assert answer.text and answer.e2e_s >= (answer.ttft_s or 0) > 0
    assert shot.stat().st_size > 10_000

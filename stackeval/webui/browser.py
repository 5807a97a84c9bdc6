"""Open WebUI's chat page driven through Playwright in Debian's Chromium (never a downloaded one).

Selectors were read from Open WebUI 0.12.4's Svelte sources and checked against the running page:
sign-in ``#email``/``#password``; the model picker ``button[aria-haspopup=listbox]`` whose id is
``model-selector-<name>-button``, with items ``button[role=option][data-value=<model id>]``; the
TipTap ``#chat-input``; an answer (``div#message-<id>`` around ``.chat-assistant``) is done once
its ``.copy-response-button`` renders, which only ``message.done`` answers have; an error shows
as ``Messages/Error.svelte``'s box inside ``#response-content-container``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from stackeval.config import WebUISettings
from stackeval.errors import ClientError, RequestTimeout, StackError

log = logging.getLogger(__name__)

CHROMIUM: Path = WebUISettings.chromium  # declared once, with its --chromium option
# From DESIGN.md: no background traffic, no updates, no sync, no GPU, no sandbox (root in CI).
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]

MODEL_BUTTON = 'button[aria-haspopup="listbox"][id^="model-selector-"]'
# An answer's container: the copy button sits beside .chat-assistant, not inside it.
ANSWER = 'div[id^="message-"]:has(.chat-assistant)'
ANSWER_TEXT = "#response-content-container"
ANSWER_ERROR = ":scope > div.rounded-2xl"  # Messages/Error.svelte, beside the rendered answer
DONE = "button.copy-response-button"
# Resolves once the last answer shows text ("text") or finished without any ("done").
_FIRST_TEXT_JS = """() => {
  const all = document.querySelectorAll('.chat-assistant');
  const last = all[all.length - 1];
  const box = last && last.querySelector('#response-content-container');
  if (box && box.innerText.trim()) return 'text';
  const message = last && last.closest('[id^="message-"]');
  return message && message.querySelector('button.copy-response-button') ? 'done' : null;
}"""


@dataclass(frozen=True)
class PageAnswer:
    """An answer as the page showed it, with perf_counter times around it."""

    text: str
    t_sent: float  # Enter pressed
    t_first_text: float | None  # first answer text visible
    t_done: float  # the answer's copy button rendered

    @property
    def ttft_s(self) -> float | None:
        """Enter to the first visible answer text."""
        return None if self.t_first_text is None else self.t_first_text - self.t_sent

    @property
    def e2e_s(self) -> float:
        """Enter to a finished answer on screen."""
        return self.t_done - self.t_sent


class ChatPage:
    """One headless Chromium page on an Open WebUI instance."""

    def __init__(self, url: str, *, executable: Path = CHROMIUM, timeout_s: float = 120.0,
                 viewport: tuple[int, int] = (1280, 900)) -> None:
        self.url = url.rstrip("/")
        self.executable = Path(executable)
        self.timeout_ms = timeout_s * 1000
        self.viewport = viewport
        self._pw = None
        self._browser = None
        self.page = None

    def open(self) -> ChatPage:
        """Launch Chromium (Playwright drives it; nothing is downloaded)."""
        if not self.executable.exists():
            raise StackError(f"no browser at {self.executable}: apt-get install chromium")
        try:
            from playwright.sync_api import Error, sync_playwright
        except ImportError as exc:
            raise StackError("browser tests need Playwright for Python: pip install playwright "
                             "(never `playwright install`: Debian's chromium is used)") from exc
        try:
            self._pw = sync_playwright().start()
            self._browser = self._pw.chromium.launch(executable_path=str(self.executable),
                                                     headless=True, args=FLAGS)
            width, height = self.viewport
            self.page = self._browser.new_page(viewport={"width": width, "height": height})
        except Error as exc:
            self.close()
            raise StackError(f"cannot launch {self.executable}: {exc}") from exc
        self.page.set_default_timeout(self.timeout_ms)
        return self

    def close(self) -> None:
        """Close the browser and Playwright's driver."""
        if self._browser is not None:
            self._browser.close()
            self._browser = None
        if self._pw is not None:
            self._pw.stop()
            self._pw = None

    def __enter__(self) -> ChatPage:
        return self.open()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def sign_in(self, email: str, password: str) -> float:
        """Fill the sign-in form and wait for the chat input; return the seconds it took."""
        from playwright.sync_api import Error

        page = self.page
        try:
            page.goto(f"{self.url}/auth")
            page.fill("#email", email)
            page.fill("#password", password)
            t0 = time.perf_counter()
            page.click('button[type="submit"]')
            page.wait_for_selector("#chat-input")
        except Error as exc:
            raise StackError(f"signing in to {self.url} failed: {exc}") from exc
        return time.perf_counter() - t0

    def new_chat(self, model: str) -> None:
        """Open a new chat and pick ``model`` in the model selector."""
        from playwright.sync_api import Error

        page = self.page
        try:
            page.goto(f"{self.url}/")
            page.wait_for_selector("#chat-input")
            page.click(MODEL_BUTTON)
            page.click(f'button[role="option"][data-value="{model}"]')
            label = page.get_attribute(MODEL_BUTTON, "aria-label") or ""
        except Error as exc:
            raise StackError(f"choosing model {model!r} on {self.url} failed: {exc}") from exc
        if model not in label:
            raise StackError(f"the model selector shows {label!r} after choosing {model!r}")

    def ask(self, question: str) -> PageAnswer:
        """Type the question, press Enter and read the finished answer off the page."""
        from playwright.sync_api import Error, TimeoutError

        page = self.page
        try:
            box = page.locator("#chat-input")
            box.click()
            box.fill(question)  # works for Chinese text too (no per-key typing)
            answers = page.locator(ANSWER).count()
            t_sent = time.perf_counter()
            page.keyboard.press("Enter")
            page.locator(ANSWER).nth(answers).wait_for()
            seen = page.wait_for_function(_FIRST_TEXT_JS, polling="raf").json_value()
            t_first = time.perf_counter() if seen == "text" else None
            last = page.locator(ANSWER).last
            last.locator(DONE).wait_for(state="attached")  # hover-reveal: hidden until hovered
            t_done = time.perf_counter()
            box = last.locator(ANSWER_TEXT)
            errors = box.locator(ANSWER_ERROR)
            if errors.count():
                raise ClientError(f"{self.url}: the chat page shows an error instead of an "
                                  f"answer: {errors.first.inner_text()}")
            text = box.inner_text()
        except TimeoutError as exc:
            raise RequestTimeout(f"{self.url}: no finished answer on the page within "
                                 f"{self.timeout_ms / 1000:.0f} s: {exc}") from exc
        except Error as exc:
            raise ClientError(f"{self.url}: the chat page failed: {exc}") from exc
        return PageAnswer(text.strip(), t_sent, t_first, t_done)

    def screenshot(self, path: Path) -> Path:
        """A full-page PNG of what the page shows now."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(path), full_page=True)
        return path

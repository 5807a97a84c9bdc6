"""Open WebUI as a service in front of a stack's gateway: its own venv, offline, on 127.0.0.1.

Open WebUI pins its own dependency versions (and pulls in torch, ~7 GB), so it lives in a venv of
its own (``install()``, ``make webui-setup``) and the harness talks to it over HTTP only. It is
started with a fresh data directory per run, every download and telemetry switch off, and its
one OpenAI connection pointing at the gateway; the first admin is created through its API.

    python -m stackeval.stack.webui install [--venv .venv-webui]
"""

from __future__ import annotations

import argparse
import logging
import secrets
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from stackeval.config import Settings, WebUISettings
from stackeval.errors import StackError
from stackeval.sampling import Sampling
from stackeval.stack.base import Endpoint
from stackeval.stack.embedded import free_port
from stackeval.stack.process import ManagedProcess
from stackeval.stack.readiness import HttpWait, log_tail

log = logging.getLogger(__name__)

OPEN_WEBUI_VERSION = "0.12.4"
DEFAULT_VENV = WebUISettings.webui_venv  # declared once, with its --webui-venv option
ADMIN_EMAIL = "admin@example.com"

# Measured on 0.12.4: with these, a first start (fresh DATA_DIR, migrations included) answers
# /health in about 13 s on 2 cores and never reaches the network.
OFFLINE_ENV = {
    "OFFLINE_MODE": "true",  # also turns off the version check and plugin requirement installs
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "RAG_EMBEDDING_MODEL": "",  # no sentence-transformers model is loaded at start (no RAG here)
    "RAG_EMBEDDING_MODEL_AUTO_UPDATE": "false",
    "RAG_RERANKING_MODEL_AUTO_UPDATE": "false",
    "WHISPER_MODEL_AUTO_UPDATE": "false",
    "ENABLE_VERSION_UPDATE_CHECK": "false",
    "SCARF_NO_ANALYTICS": "true",
    "DO_NOT_TRACK": "true",
    "ANONYMIZED_TELEMETRY": "false",
    "ENABLE_OLLAMA_API": "false",
    "ENABLE_OPENAI_API": "true",
    # The environment, not a stale database, decides the configuration.
    "ENABLE_PERSISTENT_CONFIG": "false",
    # Background LLM calls (titles, tags, follow-ups, autocomplete) would compete with the
    # measured answer for the same two cores.
    "ENABLE_TITLE_GENERATION": "false",
    "ENABLE_TAGS_GENERATION": "false",
    "ENABLE_FOLLOW_UP_GENERATION": "false",
    "ENABLE_AUTOCOMPLETE_GENERATION": "false",
    "ENABLE_EVALUATION_ARENA_MODELS": "false",
    "ENABLE_COMMUNITY_SHARING": "false",
}


def stamp(venv: Path) -> Path:
    """The file that marks a finished install of the pinned version."""
    return venv / f".stackeval-open-webui-{OPEN_WEBUI_VERSION}"


def installed(venv: Path) -> bool:
    """True when the venv holds a finished install of the pinned Open WebUI."""
    return stamp(venv).exists() and (venv / "bin" / "open-webui").exists()


def install(venv: Path, log_path: Path | None = None) -> float:
    """Create the venv and pip-install the pinned Open WebUI; return the seconds it took."""
    started = time.perf_counter()
    steps = [
        [sys.executable, "-m", "venv", "--clear", str(venv)],
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--upgrade", "pip"],
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q",
         f"open-webui=={OPEN_WEBUI_VERSION}"],
    ]
    out = open(log_path, "ab") if log_path else None  # None: pip talks to the terminal
    try:
        for argv in steps:
            log.info("webui setup: %s", " ".join(argv))
            try:
                subprocess.run(argv, check=True, stdout=out, stderr=subprocess.STDOUT if out
                               else None)
            except (OSError, subprocess.CalledProcessError) as exc:
                raise StackError(f"installing Open WebUI into {venv} failed: {exc}\n"
                                 f"Log tail ({log_path}):\n{log_tail(log_path)}") from exc
    finally:
        if out:
            out.close()
    stamp(venv).touch()
    return time.perf_counter() - started


class OpenWebUI:
    """An ``open-webui serve`` child process connected to one OpenAI-compatible gateway."""

    def __init__(self, settings: Settings, gateway: Endpoint, venv: Path = DEFAULT_VENV, *,
                 name: str = "webui") -> None:
        self.settings = settings
        self.gateway = gateway
        self.venv = Path(venv)
        self.name = name  # data dir and log name: one per instance (e.g. per xdist worker)
        self.run_dir = settings.reports_dir / "stack" / settings.run_id
        self.data_dir = self.run_dir / name
        self.email = ADMIN_EMAIL
        self.password = secrets.token_urlsafe(12)
        self.port = 0
        self.token: str | None = None
        self.version: str | None = None
        self.start_s: float | None = None  # spawn to /health, seconds
        self._proc: ManagedProcess | None = None

    @property
    def url(self) -> str:
        """The web page's root URL."""
        return f"http://127.0.0.1:{self.port}"

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start, wait for /health, create the admin; stop again if any of that fails."""
        exe = self.venv / "bin" / "open-webui"
        if not exe.exists():
            raise StackError(f"Open WebUI is not installed in {self.venv}: run `make webui-setup`"
                             f" (or `python -m stackeval.stack.webui install --venv {self.venv}`)")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        env = {
            **OFFLINE_ENV,
            "DATA_DIR": str(self.data_dir.resolve()),
            "WEBUI_SECRET_KEY": secrets.token_hex(32),
            "OPENAI_API_BASE_URL": self.gateway.base_url,
            "OPENAI_API_KEY": self.gateway.api_key or "none",
            "PYTHONUNBUFFERED": "1",
        }
        self._proc = ManagedProcess(
            name="open-webui", argv=[str(exe), "serve", "--host", "127.0.0.1", "--port",
                                     str(self.port)],
            log_path=self.run_dir / f"{self.name}.log", run_id=self.settings.run_id, env=env)
        started = time.perf_counter()
        self._proc.start()
        try:
            HttpWait(f"{self.url}/health", self.settings.start_timeout,
                     hint=f"is {self.venv} a complete install? see `make webui-setup`"
                     ).wait(self._proc.popen, self._proc.log_path, self._proc.command)
            self.start_s = time.perf_counter() - started
            log.info("Open WebUI up at %s in %.1f s", self.url, self.start_s)
            self.signup_admin()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop the server process."""
        if self._proc is not None:
            self._proc.stop()
            self._proc = None

    def alive(self) -> bool:
        """True while the server process runs."""
        return self._proc is not None and self._proc.alive()

    def __enter__(self) -> OpenWebUI:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- API ---------------------------------------------------------------------------------

    def _call(self, method: str, path: str, **kw: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        try:
            resp = httpx.request(method, self.url + path, headers=headers, timeout=60,
                                 trust_env=False, **kw)
        except httpx.HTTPError as exc:
            raise StackError(f"Open WebUI {method} {path}: {exc}") from exc
        if resp.status_code != 200:
            tail = log_tail(self.run_dir / f"{self.name}.log")
            raise StackError(f"Open WebUI {method} {path} answered HTTP {resp.status_code}: "
                             f"{resp.text[:300]}\nLog tail:\n{tail}")
        return resp.json()

    def signup_admin(self) -> str:
        """Create the first user (who becomes admin) and keep its bearer token."""
        user = self._call("POST", "/api/v1/auths/signup",
                          json={"name": "stackeval", "email": self.email,
                                "password": self.password})
        if user.get("role") != "admin":
            raise StackError(f"the first Open WebUI user is {user.get('role')!r}, not admin: "
                             "was the data directory reused?")
        self.token = user["token"]
        self.version = self._call("GET", "/api/version").get("version")
        # Skip the "what's new" modal, which would cover the chat page in the browser, and give
        # chats typed in the browser the run's sampling settings, as API requests have them.
        # "legacy" function calling: otherwise UI chats carry Open WebUI's builtin tool schemas
        # (measured: a 44-token question became 6623 tokens for Qwen2.5, over a 4096 context).
        params = {**Sampling(self.settings.max_tokens, self.settings.temperature,
                             self.settings.seed).body(), "function_calling": "legacy"}
        self._call("POST", "/api/v1/users/user/settings/update",
                   json={"ui": {"showChangelog": False, "version": self.version,
                                "params": params}})
        return self.token

    def models(self, refresh: bool = True) -> list[str]:
        """Model ids Open WebUI offers (read from the gateway)."""
        data = self._call("GET", "/api/models", params={"refresh": "true"} if refresh else None)
        return [m["id"] for m in data.get("data", [])]

    def endpoint(self, model: str) -> Endpoint:
        """Open WebUI's OpenAI-style chat API (``{base_url}/chat/completions``) as the admin."""
        if self.token is None:
            raise StackError("Open WebUI has no admin token yet: call start() first")
        return Endpoint(f"{self.url}/api", model, self.token, "webui")

    def describe(self) -> dict[str, Any]:
        """URL, version, venv and start time for reports (no secrets)."""
        return {"url": self.url, "version": f"Open WebUI {self.version}", "venv": str(self.venv),
                "gateway": self.gateway.base_url, "start_s": self.start_s}


def main(argv: list[str] | None = None) -> int:
    """``python -m stackeval.stack.webui install``: set up the Open WebUI venv."""
    parser = argparse.ArgumentParser(prog="python -m stackeval.stack.webui")
    parser.add_argument("command", choices=["install"])
    parser.add_argument("--venv", type=Path, default=DEFAULT_VENV)
    parser.add_argument("--force", action="store_true", help="reinstall even if installed")
    args = parser.parse_args(argv)
    if installed(args.venv) and not args.force:
        print(f"Open WebUI {OPEN_WEBUI_VERSION} is already installed in {args.venv}")
        return 0
    print(f"Installing Open WebUI {OPEN_WEBUI_VERSION} into {args.venv} (about 2-4 min, ~7 GB)")
    seconds = install(args.venv)
    print(f"Open WebUI {OPEN_WEBUI_VERSION} installed in {seconds:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

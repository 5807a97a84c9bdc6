"""How a question reaches a model: chat messages for chat models, few-shot completion for base.

Base (pretrained) models have no chat template; chatting with them yields text that never
stops, so they get a completion prompt from ``fixtures/prompts/completion.yaml`` with stop
sequences, and every record says which format was used.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from stackeval.client import StreamingClient
from stackeval.config import FIXTURES_DIR, Settings
from stackeval.errors import ConfigError
from stackeval.loops import LoopGuard
from stackeval.records import Completion
from stackeval.sampling import Sampling
from stackeval.stack.base import Stack

TEMPLATES = FIXTURES_DIR / "prompts" / "completion.yaml"


@dataclass(frozen=True)
class Asked:
    """A completion plus exactly what was sent."""

    completion: Completion
    prompt_format: str  # chat | completion
    sent: str  # the messages as JSON or the completion prompt
    request: dict[str, Any] = field(default_factory=dict)  # path and body, to replay the ask


def load_templates(path: Path = TEMPLATES) -> dict[str, Any]:
    """The base-model completion templates."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read completion templates: {exc}") from exc


class Asker:
    """Sends one prompt to one model on a stack, in the format the model understands."""

    def __init__(self, stack: Stack, client: StreamingClient, settings: Settings,
                 templates: dict[str, Any] | None = None) -> None:
        self.stack = stack
        self.client = client
        self.settings = settings
        self.templates = templates if templates is not None else load_templates()
        self.loop_guard = None if settings.no_loop_stop else LoopGuard(
            settings.loop_min_repeats, settings.loop_min_bytes)
        self._warm: set[str] = set()
        self._lock = threading.Lock()  # asks come from several threads; loading is one at a time

    def prepare(self, model: str) -> None:
        """Load the model and send the untimed warm-up request (once per model)."""
        with self._lock:
            self.stack.acquire(model)
            if model not in self._warm:
                self.warm_up(model)

    def ask(self, model: str, prompt: str, *, task: str = "qa", lang: str = "en",
            system: str | None = None, repeat: int = 0, max_tokens: int | None = None) -> Asked:
        """Ask and stream the answer; ``repeat`` shifts the seed so repeats are real re-draws.

        A looping answer is stopped early unless ``--no-loop-stop`` (coding answers get a guard
        four times as long, since code legitimately repeats lines more than prose does).
        """
        self.prepare(model)
        params = Sampling(max_tokens or self.settings.max_tokens, self.settings.temperature,
                          self.settings.seed).body(repeat)
        guard = self.loop_guard
        if guard is not None and task == "coding":
            guard = guard.scaled(4)
        endpoint = self.stack.endpoint(model)
        if self.stack.served(model).kind == "base":
            text, stop = self.completion_prompt(prompt, task, lang)
            body = {"prompt": text, "stop": stop, **params}
            completion = self.client.complete(endpoint, text, stop=stop, loop_guard=guard,
                                              **params)
            return Asked(completion, "completion", text, _request("/completions", endpoint,
                                                                  body, self.client))
        messages = ([{"role": "system", "content": system}] if system else []) + [
            {"role": "user", "content": prompt}]
        completion = self.client.chat(endpoint, messages, loop_guard=guard, **params)
        return Asked(completion, "chat", "\n\n".join(f"[{m['role']}]\n{m['content']}"
                                                     for m in messages),
                     _request("/chat/completions", endpoint, {"messages": messages, **params},
                              self.client))

    def warm_up(self, model: str) -> None:
        """One untimed request, so the gateway's first-call setup is not billed to a question."""
        endpoint = self.stack.endpoint(model)
        if self.stack.served(model).kind == "base":
            self.client.complete(endpoint, "Hello", max_tokens=1)
        else:
            self.client.chat(endpoint, [{"role": "user", "content": "Hello"}], max_tokens=1)
        self._warm.add(model)

    def completion_prompt(self, question: str, task: str, lang: str) -> tuple[str, list[str]]:
        """Fill the few-shot template for a task (and language, where the task has several)."""
        entry = self.templates.get(task)
        if isinstance(entry, dict) and "template" not in entry:
            entry = entry.get(lang) or entry.get("en")
        if not isinstance(entry, dict) or "template" not in entry:
            raise ConfigError(f"{TEMPLATES}: no completion template for task {task!r}")
        return entry["template"].replace("{question}", question), list(entry.get("stop", []))


def _request(path: str, endpoint: Any, body: dict[str, Any],
             client: StreamingClient) -> dict[str, Any]:
    """What a record keeps of a request: the path and the exact body (never the key)."""
    return {"path": path, "body": client.request_body(endpoint, body)}

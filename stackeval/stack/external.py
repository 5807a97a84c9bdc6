"""The external profile: endpoints the user already runs (One-API, Ollama, vLLM, an LLMaaS)."""

from __future__ import annotations

from typing import Any

from stackeval.config import Settings
from stackeval.records import ServedModel
from stackeval.stack.base import Endpoint, Stack


class ExternalStack(Stack):
    """Nothing is started or stopped; every model is reached through ``--base-url``."""

    profile = "external"

    def __init__(self, settings: Settings, models: list[str]) -> None:
        self.settings = settings
        self._models = list(models)
        self.base_url = (settings.base_url or "").rstrip("/")

    def start(self) -> None:
        """Nothing to start; reachability shows in the first request."""

    def stop(self) -> None:
        """Nothing to stop."""

    def models(self) -> list[str]:
        """The models named with --models."""
        return list(self._models)

    def endpoint(self, model: str) -> Endpoint:
        """The user's base URL and key."""
        return Endpoint(self.base_url, model, self.settings.api_key, "gateway")

    def served(self, model: str) -> ServedModel:
        """Only the name is known; the server does not tell us its file."""
        return ServedModel(name=model, server="external", gateway=self.base_url)

    def describe(self) -> dict[str, Any]:
        """Profile and base URL (the key is never included)."""
        return {"profile": self.profile, "gateway": self.base_url}

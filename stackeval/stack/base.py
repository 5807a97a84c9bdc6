"""The stack interface every profile implements: start, stop, endpoints, models, logs."""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from stackeval.records import ServedModel


@dataclass(frozen=True)
class Endpoint:
    """An OpenAI-compatible base URL, its key and the model name to send."""

    base_url: str  # ends in /v1
    model: str
    api_key: str | None = field(default=None, repr=False)
    kind: str = "gateway"  # gateway | direct | webui

    def describe(self) -> str:
        """Where requests go, without the key."""
        return f"{self.base_url} (model {self.model!r}, via {self.kind})"


class Stack(abc.ABC):
    """A set of running services that serve models behind an OpenAI-compatible gateway."""

    profile: str = ""

    @abc.abstractmethod
    def start(self) -> None:
        """Bring the stack up and wait until it is healthy; tear down what started on failure."""

    @abc.abstractmethod
    def stop(self) -> None:
        """Stop what this stack started, and nothing else."""

    @abc.abstractmethod
    def models(self) -> list[str]:
        """Model names this stack serves."""

    @abc.abstractmethod
    def endpoint(self, model: str) -> Endpoint:
        """The gateway endpoint for a model (the path users' clients take)."""

    def direct_endpoint(self, model: str) -> Endpoint | None:
        """The inference server itself, bypassing the gateway, when reachable."""
        return None

    def acquire(self, model: str) -> None:
        """Make sure the model is loaded before requests are sent (lazy profiles load here)."""
        return None

    def release(self, model: str) -> None:
        """The caller is done with a model for now; lazy profiles may unload it."""
        return None

    def check_alive(self, model: str) -> None:
        """Raise ServerGone when the model's server has died."""
        return None

    def pids(self) -> dict[str, int]:
        """Pids of the processes this stack runs, by label, for telemetry; {} when none."""
        return {}

    def containers(self) -> list[str]:
        """Names of this stack's containers (compose profile), for telemetry."""
        return []

    @abc.abstractmethod
    def served(self, model: str) -> ServedModel:
        """What is actually served under that name."""

    def logs(self, lines: int = 50) -> dict[str, str]:
        """Log tails per service, for attachments on failure."""
        return {}

    def describe(self) -> dict[str, Any]:
        """Environment facts for reports (profile, endpoints without secrets, versions)."""
        return {"profile": self.profile}

    def __enter__(self) -> Stack:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

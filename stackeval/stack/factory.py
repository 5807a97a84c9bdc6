"""Build the stack a run asks for from its resolved model specs: pull files, pick the profile.

Model names are resolved before this point (``stackeval.models.resolve.resolve_models``, once per
session); nothing here looks a name up again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from stackeval.config import Settings
from stackeval.errors import ConfigError
from stackeval.models.cache import default_cache_dir
from stackeval.models.catalog import ModelSpec
from stackeval.models.pull import pull
from stackeval.stack.base import Stack
from stackeval.stack.compose import ComposeStack
from stackeval.stack.embedded import EmbeddedStack, LocalModel
from stackeval.stack.external import ExternalStack


def create_stack(settings: Settings, specs: Sequence[ModelSpec], *, progress: bool = True,
                 eager: bool = False, state: dict[str, Any] | None = None) -> Stack:
    """A not-yet-started stack for the settings' profile serving ``specs`` (pulled for embedded)."""
    names = [spec.name for spec in specs]
    if settings.stack == "external":
        if not specs:
            raise ConfigError("--stack=external needs --models: the names your endpoint serves")
        if settings.endpoint:  # several endpoints, each with its own key and concurrency
            from stackeval.stack.endpoints import MultiEndpointStack

            return MultiEndpointStack(settings, names)
        return ExternalStack(specs, base_url=settings.base_url or "", api_key=settings.api_key)
    if settings.stack == "compose":
        return ComposeStack(settings, specs, progress=progress, eager=eager, state=state)
    cache = settings.cache_dir or default_cache_dir()
    models = [LocalModel.from_pull(spec, pull(spec, cache, progress=progress)) for spec in specs]
    return EmbeddedStack(settings, models, run_id=settings.run_id,
                         reports_dir=settings.reports_dir, eager=eager, state=state)

"""Build the stack a Settings object asks for: resolve model names, pull files, pick the profile."""

from __future__ import annotations

from typing import Any

from stackeval.catalog import Catalog, ModelSpec, load_catalog, resolve
from stackeval.config import Settings
from stackeval.errors import ConfigError
from stackeval.pull import PulledModel, default_cache_dir, pull
from stackeval.records import ServedModel
from stackeval.stack.base import Stack
from stackeval.stack.compose import ComposeStack
from stackeval.stack.embedded import EmbeddedStack, LocalModel
from stackeval.stack.external import ExternalStack


def selected_models(settings: Settings, catalog: Catalog | None = None) -> list[str]:
    """The model names a run covers: ``--models`` or the catalog's default set.

    Names are checked against the catalog (an unknown one lists the known ones), except on the
    external profile, where the user's endpoint decides what exists.
    """
    if settings.stack == "external":
        return list(settings.models)
    catalog = catalog or load_catalog()
    if settings.models:
        return [resolve(name, catalog).name for name in settings.models]
    return [m.name for m in catalog.defaults()]


def resolve_specs(settings: Settings, catalog: Catalog | None = None) -> list[ModelSpec]:
    """Catalog entries (or local .gguf specs) for the selected models; unknown names fail early."""
    catalog = catalog or load_catalog()
    names = settings.models or [m.name for m in catalog.defaults()]
    return [resolve(name, catalog) for name in names]


def local_model(spec: ModelSpec, pulled: PulledModel) -> LocalModel:
    """What the embedded stack needs to serve a pulled file, with its served-model facts."""
    info = pulled.gguf
    served = ServedModel(
        name=spec.name, kind=spec.kind, file=pulled.path.name, sha256=pulled.sha256,
        size_bytes=pulled.size_bytes, quantization=info.quantization or spec.quantization,
        architecture=info.architecture, context_size=spec.n_ctx,
    )
    return LocalModel(spec.name, pulled.path, spec.kind, spec.n_ctx, served)


def create_stack(settings: Settings, *, progress: bool = True, eager: bool = False,
                 state: dict[str, Any] | None = None) -> Stack:
    """A not-yet-started stack for the settings' profile (pulling models for embedded)."""
    if settings.stack == "external":
        if not settings.models:
            raise ConfigError("--stack=external needs --models: the names your endpoint serves")
        if settings.endpoint:  # several endpoints, each with its own key and concurrency
            from stackeval.stack.endpoints import MultiEndpointStack

            return MultiEndpointStack(settings, list(settings.models))
        return ExternalStack(settings, list(settings.models))
    if settings.stack == "compose":
        return ComposeStack(settings, selected_models(settings), progress=progress, eager=eager,
                            state=state)
    cache = settings.cache_dir or default_cache_dir()
    models = []
    for spec in resolve_specs(settings):
        models.append(local_model(spec, pull(spec, cache, progress=progress)))
    return EmbeddedStack(settings, models, eager=eager, state=state)

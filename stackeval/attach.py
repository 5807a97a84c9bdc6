"""Allure attachments and labels; silent no-ops when allure-pytest is not recording."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import allure


def text(name: str, body: str) -> None:
    """Attach plain text."""
    allure.attach(body or "(empty)", name=name, attachment_type=allure.attachment_type.TEXT)


def as_json(name: str, data: Any) -> None:
    """Attach a JSON document."""
    allure.attach(json.dumps(data, indent=2, ensure_ascii=False, default=str), name=name,
                  attachment_type=allure.attachment_type.JSON)


def file(name: str, path: Path) -> None:
    """Attach a file (PNG, CSV, ...) by its extension."""
    kinds = {".png": allure.attachment_type.PNG, ".csv": allure.attachment_type.CSV,
             ".json": allure.attachment_type.JSON, ".txt": allure.attachment_type.TEXT}
    allure.attach.file(str(path), name=name, attachment_type=kinds.get(path.suffix))


def labels(**values: str) -> None:
    """Set Allure labels (model, category, lang, suite...).

    The question's language is ``lang``: allure-pytest already sets ``language`` (to the
    Python implementation, e.g. cpython3), and a second ``language`` label would make two.
    """
    for key, value in values.items():
        allure.dynamic.label(key, value)


def write_environment(alluredir: Path, env: dict[str, Any]) -> None:
    """Allure's environment.properties: one ``key = value`` line each (no secrets go in here)."""
    alluredir.mkdir(parents=True, exist_ok=True)
    lines = [f"{k} = {str(v).replace(chr(10), ' ')}" for k, v in env.items()]
    (alluredir / "environment.properties").write_text("\n".join(lines) + "\n", encoding="utf-8")

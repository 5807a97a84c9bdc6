"""A Continue.dev ``config.yaml`` pointing at the stack's gateway (the course's BYOK editor task).

Chat models get the chat/edit/apply roles; base models, which cannot chat, get autocomplete
through the legacy completions endpoint.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml


def continue_config(base_url: str, api_key: str, models: list[tuple[str, str]]) -> dict[str, Any]:
    """Config for ``models`` given as (name, kind) pairs, all reached through ``base_url``."""
    entries = []
    for name, kind in models:
        entry: dict[str, Any] = {"name": f"{name} (stackeval)", "provider": "openai",
                                 "model": name, "apiBase": base_url, "apiKey": api_key}
        if kind == "base":
            entry |= {"roles": ["autocomplete"], "useLegacyCompletionsEndpoint": True}
        else:
            entry["roles"] = ["chat", "edit", "apply"]
        entries.append(entry)
    return {"name": "stackeval local stack", "version": "1.0.0", "schema": "v1",
            "models": entries}


def write_config(path: Path, config: dict[str, Any]) -> Path:
    """Write the YAML readable only by its owner: it holds the gateway key."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        yaml.safe_dump(config, f, sort_keys=False, allow_unicode=True)
    return path

"""The Continue.dev config writer and its CLI command."""

from __future__ import annotations

import stat

import yaml

from stackeval.cli import main


def test_continue_config_for_catalog_models(tmp_path, capsys):
    out = tmp_path / "config.yaml"
    rc = main(["continue-config", "-o", str(out), "--api-key", "sk-abc",
               "--models", "smollm2:135m,gemma3:270m", "--gateway-port", "4123"])
    assert rc == 0
    cfg = yaml.safe_load(out.read_text())
    assert cfg["schema"] == "v1" and cfg["name"] and cfg["version"]
    chat, base = cfg["models"]
    assert chat["provider"] == "openai" and chat["model"] == "smollm2:135m"
    assert chat["apiBase"] == "http://127.0.0.1:4123/v1" and chat["apiKey"] == "sk-abc"
    assert chat["roles"] == ["chat", "edit", "apply"]
    assert base["roles"] == ["autocomplete"] and base["useLegacyCompletionsEndpoint"] is True
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert "sk-abc" not in capsys.readouterr().out


def test_continue_config_needs_a_key(tmp_path, capsys):
    assert main(["continue-config", "-o", str(tmp_path / "c.yaml")]) == 2
    assert "--api-key" in capsys.readouterr().err

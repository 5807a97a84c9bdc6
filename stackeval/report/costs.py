"""Cost of a run: LLMaaS tokens times price, local energy times the electricity price."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from stackeval.errors import ConfigError
from stackeval.report.resources import Resources
from stackeval.report.stats import SpeedStats, TokenUse

DEFAULT_PRICES = Path("fixtures/prices.yaml")


@dataclass(frozen=True)
class ApiPrice:
    """An LLMaaS price per 1M input and output tokens."""

    provider: str
    model: str
    input_per_1m: float
    output_per_1m: float

    @property
    def label(self) -> str:
        """The column header: the provider's model name."""
        return self.model


@dataclass(frozen=True)
class Prices:
    """The user-editable price file."""

    source: str
    as_of: str
    currency: str
    note: str
    providers: tuple[ApiPrice, ...]
    electricity_per_kwh: float | None
    assumed_power_w: float | None


@dataclass(frozen=True)
class Cost:
    """What one model's run cost: tokens at an API price, or energy at the electricity price."""

    model: str
    basis: str  # "api price" | "measured energy" | "estimated energy" | "not measured"
    detail: str
    amount: float | None
    energy_kwh: float | None
    correct: int  # correct Q&A answers plus passing coding samples
    output_tokens: int

    @property
    def per_correct(self) -> float | None:
        """Cost per correct answer (all suites)."""
        return self.amount / self.correct if self.amount is not None and self.correct else None

    @property
    def per_1m_output(self) -> float | None:
        """Cost per million output tokens, comparable with an LLMaaS output price."""
        if self.amount is None or not self.output_tokens:
            return None
        return self.amount / self.output_tokens * 1e6


def load_prices(path: Path | None = DEFAULT_PRICES) -> Prices | None:
    """Read the price file; None when there is none, ConfigError when it is malformed."""
    if path is None or not Path(path).exists():
        return None
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        providers = tuple(
            ApiPrice(str(p["provider"]), str(p["model"]), float(p["input_per_1m"]),
                     float(p["output_per_1m"]))
            for p in data.get("providers") or ())
        elec = data.get("electricity_per_kwh")
        power = data.get("assumed_power_w")
        return Prices(source=str(path), as_of=str(data.get("as_of", "?")),
                      currency=str(data.get("currency", "")), note=str(data.get("note", "")),
                      providers=providers,
                      electricity_per_kwh=None if elec is None else float(elec),
                      assumed_power_w=None if power is None else float(power))
    except (yaml.YAMLError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ConfigError(f"{path}: not a valid price file: {exc}") from exc


def _api_price(model: str, prices: Prices) -> ApiPrice | None:
    name = model.split("/")[-1].lower()
    return next((p for p in prices.providers if p.model.lower() == name), None)


def costs(models: Sequence[str], tokens: Sequence[TokenUse], speed: Sequence[SpeedStats],
          resources: Sequence[Resources], correct: Mapping[str, int], prices: Prices,
          stack_profile: str | None) -> dict[str, Cost]:
    """Per model: API tokens times price, or energy (measured, else estimated) times electricity."""
    out = {}
    for model in models:
        use = next((t for t in tokens if t.model == model and t.suite == "all"), None)
        if use is None:
            continue
        api = _api_price(model, prices) if stack_profile == "external" else None
        if api is not None:
            amount = (use.prompt_tokens * api.input_per_1m
                      + use.output_tokens * api.output_per_1m) / 1e6
            out[model] = Cost(model, "api price", f"{api.label}: {api.input_per_1m:g} in / "
                              f"{api.output_per_1m:g} out per 1M tokens", amount, None,
                              correct.get(model, 0), use.output_tokens)
            continue
        measured = [r for r in resources if r.label == model and r.energy_j is not None]
        busy = next((s for s in speed if s.model == model and s.suite == "all"), None)
        busy_s = math.fsum(busy.e2e_s.values) if busy else 0.0
        if measured:
            joules = math.fsum(r.energy_j or 0.0 for r in measured)
            methods = ", ".join(sorted({r.energy_method or "?" for r in measured}))
            basis, detail = "measured energy", f"{joules:.0f} J from telemetry ({methods})"
        elif prices.assumed_power_w is not None and busy_s > 0:
            joules = prices.assumed_power_w * busy_s
            basis, detail = "estimated energy", (
                f"assumed {prices.assumed_power_w:g} W × {busy_s:.1f} s generating")
        else:
            out[model] = Cost(model, "not measured", "no energy telemetry and no assumed power",
                              None, None, correct.get(model, 0), use.output_tokens)
            continue
        kwh = joules / 3.6e6
        amount = None if prices.electricity_per_kwh is None else kwh * prices.electricity_per_kwh
        out[model] = Cost(model, basis, detail, amount, kwh, correct.get(model, 0),
                          use.output_tokens)
    return out


def api_equivalent(tokens: Sequence[TokenUse], prices: Prices) -> dict[str, dict[str, float]]:
    """What each model's tokens (all suites) would cost at each LLMaaS price."""
    return {t.model: {p.label: (t.prompt_tokens * p.input_per_1m
                                + t.output_tokens * p.output_per_1m) / 1e6
                      for p in prices.providers}
            for t in tokens if t.suite == "all"}

"""Token usage to US dollars: provider-reported cost first, then the price table, free models at 0."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from convoload.errors import ConfigError
from convoload.llm.types import TokenUsage
from convoload.safeyaml import load_yaml_mapping, parse_yaml


@dataclass(frozen=True, slots=True)
class Price:
    input: float  # USD per million prompt tokens
    output: float  # USD per million completion tokens
    cached_input: float | None = None  # USD per million cached prompt tokens (None: the input price)

    def cost(self, usage: TokenUsage) -> float:
        cached = min(usage.cached, usage.prompt)
        cached_price = self.input if self.cached_input is None else self.cached_input
        return (
            (usage.prompt - cached) * self.input + cached * cached_price + usage.completion * self.output
        ) / 1e6


@cache
def shipped_prices() -> dict[str, Price]:
    text = (resources.files("convoload.llm") / "prices.yaml").read_text(encoding="utf-8")
    return _parse(parse_yaml(text, "prices.yaml"), "prices.yaml")


def load_prices(path: str | Path | None) -> dict[str, Price]:
    """The shipped table, overridden and extended by a user's YAML file."""
    prices = dict(shipped_prices())
    if path is not None:
        prices.update(_parse(load_yaml_mapping(Path(path)), str(path)))
    return prices


def _parse(data: Any, source: str) -> dict[str, Price]:
    prices = {}
    for model, entry in (data or {}).items():
        if not isinstance(entry, dict) or "input" not in entry or "output" not in entry:
            raise ConfigError(source, str(model), "needs input and output prices (USD per million tokens)")
        try:
            prices[str(model)] = Price(
                float(entry["input"]),
                float(entry["output"]),
                None if entry.get("cached_input") is None else float(entry["cached_input"]),
            )
        except (TypeError, ValueError):
            raise ConfigError(source, str(model), "prices must be numbers") from None
    return prices


def compute_cost(
    usage: TokenUsage, model: str, *, free: bool, reported: float | None, prices: dict[str, Price]
) -> tuple[float, str]:
    """(cost in USD, where it came from). Unknown paid models cost 0 and say so ("unpriced")."""
    if reported is not None:
        return float(reported), "provider"
    if free or model.endswith(":free"):
        return 0.0, "free"
    price = prices.get(model) or prices.get(model.rsplit("/", 1)[-1])
    if price is None:
        return 0.0, "unpriced"
    return price.cost(usage), "table"

"""Querying strategies and the registry of their names.

To add one: write ``strategies/<name>.py`` with a :class:`Strategy` subclass and add one line
to ``STRATEGIES`` below.
"""

from __future__ import annotations

from types import MappingProxyType

from alcli.strategies.base import (
    ScoreStrategy,
    Selection,
    SelectionContext,
    Strategy,
    select_top,
)
from alcli.strategies.entropy import EntropySampling
from alcli.strategies.least_confidence import LeastConfidence
from alcli.strategies.margin import MarginSampling
from alcli.strategies.random import RandomSampling

STRATEGIES: MappingProxyType[str, type[Strategy]] = MappingProxyType(
    {
        "entropy": EntropySampling,
        "least_confidence": LeastConfidence,
        "margin": MarginSampling,
        "random": RandomSampling,
    }
)


def strategy_class(name: str) -> type[Strategy]:
    """The registered strategy class for ``name`` (the config has already checked the name)."""
    return STRATEGIES[name]


def build_strategy(name: str, params: dict) -> Strategy:
    return strategy_class(name)(**params)


__all__ = [
    "STRATEGIES",
    "ScoreStrategy",
    "Selection",
    "SelectionContext",
    "Strategy",
    "build_strategy",
    "select_top",
    "strategy_class",
]

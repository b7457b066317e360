"""Querying strategies and the registry of their names.

To add one: write ``strategies/<name>.py`` with a :class:`Strategy` subclass and add one line
to ``STRATEGIES`` below. A user's own strategy is named by import path instead
(``mypkg.strategies:MyStrategy``).
"""

from __future__ import annotations

import difflib
from types import MappingProxyType

from pydantic import BaseModel

from alcli.imports import import_object
from alcli.strategies.bald import BALD
from alcli.strategies.bandit import Bandit
from alcli.strategies.base import (
    ScoreStrategy,
    Selection,
    SelectionContext,
    Strategy,
    UnsupportedInput,
    select_top,
)
from alcli.strategies.cluster_margin import ClusterMargin
from alcli.strategies.entropy import EntropySampling
from alcli.strategies.expected_error_reduction import ExpectedErrorReduction
from alcli.strategies.information_density import InformationDensity
from alcli.strategies.kcenter import KCenter
from alcli.strategies.kmeans import KMeansSampling
from alcli.strategies.least_confidence import LeastConfidence
from alcli.strategies.margin import MarginSampling
from alcli.strategies.mixture import Mixture
from alcli.strategies.prediction_flips import PredictionFlips
from alcli.strategies.qbc import QueryByCommittee
from alcli.strategies.random import RandomSampling
from alcli.strategies.ranked_batch import RankedBatch
from alcli.strategies.uncertainty_trend import UncertaintyTrend

STRATEGIES: MappingProxyType[str, type[Strategy]] = MappingProxyType(
    {
        "bald": BALD,
        "bandit": Bandit,
        "cluster_margin": ClusterMargin,
        "entropy": EntropySampling,
        "expected_error_reduction": ExpectedErrorReduction,
        "information_density": InformationDensity,
        "kcenter": KCenter,
        "kmeans": KMeansSampling,
        "least_confidence": LeastConfidence,
        "margin": MarginSampling,
        "mixture": Mixture,
        "prediction_flips": PredictionFlips,
        "qbc": QueryByCommittee,
        "random": RandomSampling,
        "ranked_batch": RankedBatch,
        "uncertainty_trend": UncertaintyTrend,
    }
)


def resolve_strategy(name: str) -> type[Strategy]:
    """The strategy class for a registered name or an import path (``pkg.mod:Class``).

    Raises
    ------
    LookupError
        Naming the registered strategies, or why the import path is not a strategy.
    """
    if name in STRATEGIES:
        return STRATEGIES[name]
    if ":" not in name and "." not in name:
        close = difflib.get_close_matches(name, list(STRATEGIES), n=1, cutoff=0.6)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise LookupError(
            f"Unknown strategy '{name}'{hint}. Available: {', '.join(sorted(STRATEGIES))}. "
            "Your own strategy is named by import path, e.g. mypkg.strategies:MyStrategy."
        )
    try:
        found = import_object(name)
    except ImportError as exc:
        raise LookupError(
            f"cannot import strategy '{name}': {exc}. Check the import path "
            "(package.module:Class) and that the package is installed or on PYTHONPATH"
        ) from None
    if not (isinstance(found, type) and issubclass(found, Strategy)):
        raise LookupError(
            f"'{name}' is not a strategy: it must be a subclass of alcli.strategies.Strategy "
            "(or ScoreStrategy) with name, description and select() (or score())"
        )
    if getattr(found, "__abstractmethods__", None):
        missing = ", ".join(sorted(found.__abstractmethods__))
        raise LookupError(f"strategy '{name}' does not implement {missing}")
    for attribute in ("name", "description"):
        if not isinstance(getattr(found, attribute, None), str):
            raise LookupError(
                f"strategy '{name}' needs a class attribute {attribute} (a string), like every "
                "strategy: name = 'mine', description = 'What it picks, in one line.'"
            )
    if not (isinstance(found.Params, type) and issubclass(found.Params, BaseModel)):
        raise LookupError(
            f"strategy '{name}': Params must be a pydantic BaseModel subclass declaring its "
            "parameters"
        )
    return found


def build_strategy(name: str, params: dict) -> Strategy:
    return resolve_strategy(name)(**params)


__all__ = [
    "STRATEGIES",
    "ScoreStrategy",
    "Selection",
    "SelectionContext",
    "Strategy",
    "UnsupportedInput",
    "build_strategy",
    "resolve_strategy",
    "select_top",
]

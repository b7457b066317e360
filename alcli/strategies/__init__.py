"""Querying strategies and the registry of their names.

To add one: write ``strategies/<name>.py`` with a :class:`Strategy` subclass and add one line
to ``STRATEGIES`` below. A user's own strategy is named by import path instead
(``mypkg.strategies:MyStrategy``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from alcli.catalog import component_info
from alcli.registry import Registry
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


def _check_own(name: str, found: type) -> str | None:
    """What a user's own strategy class lacks, or None."""
    for attribute in ("name", "description"):
        if not isinstance(getattr(found, attribute, None), str):
            return (
                f"strategy '{name}' needs a class attribute {attribute} (a string), like every "
                "strategy: name = 'mine', description = 'What it picks, in one line.'"
            )
    if not (isinstance(found.Params, type) and issubclass(found.Params, BaseModel)):
        return (
            f"strategy '{name}': Params must be a pydantic BaseModel subclass declaring its "
            "parameters"
        )
    return None


STRATEGIES: Registry[Strategy] = Registry(
    "strategy",
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
    },
    base=Strategy,
    own_example="mypkg.strategies:MyStrategy",
    must_be="a subclass of alcli.strategies.Strategy (or ScoreStrategy) with name, "
    "description and select() (or score())",
    check=_check_own,
)


def resolve_strategy(name: str) -> type[Strategy]:
    """The strategy class for a registered name or an import path (``pkg.mod:Class``).

    Raises
    ------
    LookupError
        Naming the registered strategies, or why the import path is not a strategy.
    """
    return STRATEGIES.resolve(name)


def strategy_info(name: str, cls: type[Strategy]) -> dict[str, Any]:
    """What `alcli strategies` shows of a strategy (see :func:`alcli.catalog.component_info`)."""
    needs = []
    if cls.needs_proba is True:
        needs.append(
            "predict_proba or decision_function" if cls.accepts_decision else "predict_proba"
        )
    if cls.accepts_sparse is False:
        needs.append("dense features")
    if cls.requires:
        needs.append(cls.requires)
    return component_info(name, cls, needs)


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
    "strategy_info",
]

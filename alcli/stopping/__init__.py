"""Stop criteria: after each loop, the first one that holds ends the run.

Each criterion is one file with its ``Params`` beside it, plus one line in
:data:`STOP_CRITERIA`. The limits have keys of their own in the ``stop`` section
(``max_loops``, ``budget``, ``budget_cost``, ``target``); any registered criterion (or your
own, by import path) can be listed under ``stop.when``.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, NonNegativeInt, PositiveFloat, PositiveInt, model_validator

from alcli.catalog import component_info
from alcli.registry import ComponentSpec, Registry
from alcli.schema import Section
from alcli.stopping.base import (
    PROBA_SIGNALS,
    SIGNALS,
    TEST_SET,
    NoParams,
    Progress,
    StopCriterion,
)
from alcli.stopping.budget import Budget
from alcli.stopping.budget_cost import BudgetCost
from alcli.stopping.classification_change import ClassificationChange
from alcli.stopping.max_confidence import MaxConfidence
from alcli.stopping.max_loops import MaxLoops
from alcli.stopping.overall_uncertainty import OverallUncertainty
from alcli.stopping.plateau import Plateau
from alcli.stopping.pool_exhausted import PoolExhausted
from alcli.stopping.schedule_exhausted import ScheduleExhausted
from alcli.stopping.stabilizing_predictions import StabilizingPredictions
from alcli.stopping.target import Target, TargetConfig

STOP_CRITERIA: Registry[StopCriterion] = Registry(
    "stop criterion",
    {
        "target": Target,
        "max_loops": MaxLoops,
        "budget": Budget,
        "budget_cost": BudgetCost,
        "pool_exhausted": PoolExhausted,
        "schedule_exhausted": ScheduleExhausted,
        "stabilizing_predictions": StabilizingPredictions,
        "classification_change": ClassificationChange,
        "overall_uncertainty": OverallUncertainty,
        "max_confidence": MaxConfidence,
        "plateau": Plateau,
    },
    base=StopCriterion,
    own_example="mypkg.stopping:MyCriterion",
)


class StopSpec(ComponentSpec):
    """``name`` picks a stop criterion; the other keys are its parameters."""

    name: str = Field(
        description="A registered stop criterion, or the import path of your own "
        "StopCriterion subclass (mypkg.stopping:MyCriterion)."
    )

    @classmethod
    def registry(cls) -> Registry:
        return STOP_CRITERIA


class StopConfig(Section):
    max_loops: NonNegativeInt = Field(10, description="Loops after loop 0.")
    budget: PositiveInt | None = Field(None, description="Labels in total, loop 0 included.")
    budget_cost: PositiveFloat | None = Field(
        None,
        description="Money in total (labeler cost), loop 0 included: a loop is cut so that it "
        "cannot spend past it, and the run stops when no further label fits.",
    )
    target: TargetConfig | None = Field(
        None, description="Stop when a test metric reaches a value."
    )
    when: list[StopSpec] = Field(
        default_factory=list,
        description="More stop criteria, each {name: <criterion>, <parameter>: <value>}; the "
        "run stops when any holds.",
    )
    record_signals: bool = Field(
        False,
        description="Measure every signal of the label-free criteria each loop, even those no "
        "criterion watches, so that `alcli report` can replay them all (costs a pass over the "
        "pool's predictions and the stop set's predictions a loop).",
    )

    @model_validator(mode="after")
    def _distinct(self) -> StopConfig:
        names = [spec.name for spec in self.when]
        if len(set(names)) != len(names):
            raise ValueError("stop.when: a criterion is listed twice; list each once")
        return self


def build_criteria(cfg: StopConfig) -> list[StopCriterion]:
    """The criteria of a ``stop`` section, in the order they are checked: ``target``, those
    under ``when``, ``max_loops``, ``budget``, ``budget_cost``, ``pool_exhausted``,
    ``schedule_exhausted``."""
    specs: list[tuple[str, dict[str, Any]]] = []
    if cfg.target is not None:
        specs.append(("target", cfg.target.model_dump()))
    specs += [(spec.name, spec.params) for spec in cfg.when]
    specs.append(("max_loops", {"max_loops": cfg.max_loops}))
    if cfg.budget is not None:
        specs.append(("budget", {"budget": cfg.budget}))
    if cfg.budget_cost is not None:
        specs.append(("budget_cost", {"budget_cost": cfg.budget_cost}))
    specs += [("pool_exhausted", {}), ("schedule_exhausted", {})]
    return [STOP_CRITERIA.resolve(name)(**params) for name, params in specs]


def needed_signals(criteria: list[StopCriterion]) -> frozenset[str]:
    """The signals (names in SIGNALS) some criterion asks INFER to measure."""
    return frozenset().union(*(c.needs for c in criteria)) & SIGNALS.keys()


def watch_signals(criteria: list[StopCriterion]) -> tuple[list, list]:
    """The criteria that decide from what the loop knows before INFER, and those that watch
    INFER's signals (checked after it; a run stopped by the first skips INFER)."""
    later = [c for c in criteria if c.needs & SIGNALS.keys()]
    return [c for c in criteria if c not in later], later


def criterion_info(name: str, cls: type[StopCriterion]) -> dict[str, Any]:
    """What `alcli stop-criteria` shows of a criterion."""
    needs = [SIGNALS.get(need, need) for need in sorted(cls.needs)]
    return component_info(name, cls, needs)


def first_reason(criteria: list[StopCriterion], progress: Progress) -> str | None:
    """Let every criterion observe the loop; the first reason to stop, or None."""
    for criterion in criteria:
        criterion.observe(progress)
    return next((reason for criterion in criteria if (reason := criterion.check(progress))), None)


def stop_reason(cfg: StopConfig, progress: Progress) -> str | None:
    """The reason to stop after this loop under ``cfg`` (criteria without history), or None.

    Reasons, checked in this order: ``target`` (a metric reached its value), ``max_loops``,
    ``budget`` (labels spent), ``budget_cost`` (money spent, or not enough left for one more
    answer), ``pool_exhausted`` (nothing left to label), ``schedule_exhausted`` (a list
    schedule ended).
    """
    return first_reason(build_criteria(cfg), progress)


__all__ = [
    "PROBA_SIGNALS",
    "SIGNALS",
    "STOP_CRITERIA",
    "TEST_SET",
    "NoParams",
    "Progress",
    "StopConfig",
    "StopCriterion",
    "StopSpec",
    "TargetConfig",
    "build_criteria",
    "criterion_info",
    "first_reason",
    "needed_signals",
    "stop_reason",
    "watch_signals",
]

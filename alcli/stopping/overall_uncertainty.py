"""Stop when the model is sure of the pool as a whole."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from alcli.stopping.base import Progress, StopCriterion


class OverallUncertaintyParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    threshold: float = Field(
        0.05,
        gt=0,
        le=1,
        description="Stop when the mean normalized entropy of the pool falls below this.",
    )


class OverallUncertainty(StopCriterion):
    """The mean entropy of the predictions over the unlabeled pool, divided by the log of the
    number of classes (so 0 to 1), falls below ``threshold``. Needs no labels.

    References: Zhu, Wang & Hovy, "Multi-criteria-based strategy to stop active learning for
    data annotation", COLING 2008 (overall uncertainty).
    """

    name = "overall_uncertainty"
    description = "The mean normalized entropy over the unlabeled pool is low."
    Params = OverallUncertaintyParams
    needs = frozenset({"uncertainty"})
    replay_grid = {"threshold": [0.1, 0.05, 0.01]}  # noqa: RUF012 - read only

    def check(self, progress: Progress) -> str | None:
        uncertainty = progress.signals.get("uncertainty", float("nan"))
        return self.name if uncertainty < self.params.threshold else None

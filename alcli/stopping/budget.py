"""Stop when the labels reach a budget."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, PositiveInt

from alcli.stopping.base import Progress, StopCriterion


class BudgetParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    budget: PositiveInt


class Budget(StopCriterion):
    """``budget`` labels in total, loop 0 included."""

    name = "budget"
    description = "stop.budget labels were spent."
    Params = BudgetParams

    def check(self, progress: Progress) -> str | None:
        return self.name if progress.n_labeled >= self.params.budget else None

"""Stop when the money is spent, or too little is left for one more answer."""

from __future__ import annotations

from pydantic import PositiveFloat

from alcli.stopping.base import Progress, StopCriterion, limit_params


class BudgetCost(StopCriterion):
    """The labels cost ``budget_cost``, or one more answer at the dearest price would not fit."""

    name = "budget_cost"
    description = "stop.budget_cost was spent, or no further answer fits it."
    Params = limit_params("budget_cost", PositiveFloat)

    def check(self, progress: Progress) -> str | None:
        spent = progress.spent >= self.params.budget_cost
        return self.name if spent or not progress.affordable else None

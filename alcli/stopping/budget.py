"""Stop when the labels reach a budget."""

from __future__ import annotations

from pydantic import PositiveInt

from alcli.stopping.base import Progress, StopCriterion, limit_params


class Budget(StopCriterion):
    """``budget`` labels in total, loop 0 included."""

    name = "budget"
    description = "stop.budget labels were spent."
    Params = limit_params("budget", PositiveInt)

    def check(self, progress: Progress) -> str | None:
        return self.name if progress.n_labeled >= self.params.budget else None

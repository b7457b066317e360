"""Stop after a number of loops."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, NonNegativeInt

from alcli.stopping.base import Progress, StopCriterion


class MaxLoopsParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    max_loops: NonNegativeInt


class MaxLoops(StopCriterion):
    """Loop ``max_loops`` (after loop 0) is done."""

    name = "max_loops"
    description = "The run did stop.max_loops loops after loop 0."
    Params = MaxLoopsParams

    def check(self, progress: Progress) -> str | None:
        return self.name if progress.loop >= self.params.max_loops else None

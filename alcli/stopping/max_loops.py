"""Stop after a number of loops."""

from __future__ import annotations

from pydantic import NonNegativeInt

from alcli.stopping.base import Progress, StopCriterion, limit_params


class MaxLoops(StopCriterion):
    """Loop ``max_loops`` (after loop 0) is done."""

    name = "max_loops"
    description = "The run did stop.max_loops loops after loop 0."
    Params = limit_params("max_loops", NonNegativeInt)

    def check(self, progress: Progress) -> str | None:
        return self.name if progress.loop >= self.params.max_loops else None

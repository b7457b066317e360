"""Stop when no record is left to label."""

from __future__ import annotations

from alcli.stopping.base import Progress, StopCriterion


class PoolExhausted(StopCriterion):
    """Every pool record is labeled (or skipped)."""

    name = "pool_exhausted"
    description = "No pool record is left to select."

    def check(self, progress: Progress) -> str | None:
        return self.name if progress.n_unlabeled == 0 else None

"""Stop when the loop-size schedule asks for nothing more."""

from __future__ import annotations

from alcli.stopping.base import Progress, StopCriterion


class ScheduleExhausted(StopCriterion):
    """The next loop would label nothing (a list schedule ended)."""

    name = "schedule_exhausted"
    description = "The loop-size schedule has no further loop (a list schedule ended)."

    def check(self, progress: Progress) -> str | None:
        return self.name if progress.next_size == 0 else None

"""Stop when a test metric reaches a value."""

from __future__ import annotations

from pydantic import Field

from alcli.schema import Section
from alcli.stopping.base import Progress, StopCriterion


class TargetConfig(Section):
    metric: str = Field(description="One of the names in metrics.")
    value: float = Field(description="Stop once the metric reaches this value (>=).")


class Target(StopCriterion):
    """The test metric ``metric`` reached ``value`` (needs a test set)."""

    name = "target"
    description = "A test metric reached a value (stop.target)."
    Params = TargetConfig

    def check(self, progress: Progress) -> str | None:
        reached = progress.metrics.get(self.params.metric, -float("inf")) >= self.params.value
        return self.name if reached else None

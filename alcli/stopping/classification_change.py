"""Stop when the model's predictions over the pool stop changing."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from alcli.stopping.base import Progress, StopCriterion


class ClassificationChangeParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    threshold: float = Field(
        0.005, ge=0, lt=1, description="Stop when at most this share of predictions changed."
    )


class ClassificationChange(StopCriterion):
    """The share of the unlabeled pool whose predicted class changed since the last loop falls
    to ``threshold`` or below. Needs no labels.

    References: Zhu, Wang & Hovy, "Multi-criteria-based strategy to stop active learning for
    data annotation", COLING 2008 (classification change).
    """

    name = "classification_change"
    description = "Few pool predictions changed since the last loop."
    Params = ClassificationChangeParams
    needs = frozenset({"changed"})
    replay_grid = {"threshold": [0.02, 0.005, 0.001]}  # noqa: RUF012 - read only

    def check(self, progress: Progress) -> str | None:
        changed = progress.signals.get("changed", float("nan"))
        return self.name if changed <= self.params.threshold else None

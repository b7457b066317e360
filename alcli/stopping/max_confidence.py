"""Stop when the strategy has run out of records the model is unsure of."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from alcli.stopping.base import Progress, StopCriterion


class MaxConfidenceParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    threshold: float = Field(
        0.9,
        gt=0,
        le=1,
        description="Stop when every record of the batch was predicted at least this sure.",
    )


class MaxConfidence(StopCriterion):
    """Every record of the last batch was predicted with a confidence (top probability) of at
    least ``threshold`` by the model that selected it: an uncertainty strategy has no
    uncertain record left. Needs no labels.

    References: Zhu, Wang & Hovy, "Learning a stopping criterion for active learning for word
    sense disambiguation and text classification", IJCNLP 2008 (max-confidence).
    """

    name = "max_confidence"
    description = "Every record of the last batch was predicted confidently."
    Params = MaxConfidenceParams
    needs = frozenset({"batch_confidence"})
    replay_grid = {"threshold": [0.8, 0.9, 0.95]}  # noqa: RUF012 - read only

    def check(self, progress: Progress) -> str | None:
        confidence = progress.signals.get("batch_confidence", float("nan"))
        return self.name if confidence >= self.params.threshold else None

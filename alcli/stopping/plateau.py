"""Stop when a test metric stops improving."""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, PositiveInt

from alcli.stopping.base import TEST_SET, Progress, StopCriterion


class PlateauParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    metric: str = Field("accuracy", description="A name in metrics.")
    min_delta: float = Field(0.0, ge=0, description="A gain smaller than this is no gain.")
    patience: PositiveInt = Field(3, description="Loops without a gain before stopping.")


class Plateau(StopCriterion):
    """The test metric has not improved on its best by more than ``min_delta`` for
    ``patience`` loops. Needs a labeled test set."""

    name = "plateau"
    description = "The test metric has not improved for a number of loops."
    Params = PlateauParams
    needs = frozenset({TEST_SET})
    replay_grid = {"patience": [2, 3, 5]}  # noqa: RUF012 - read only

    def __init__(self, **params):
        super().__init__(**params)
        self.best_ = -np.inf
        self.waited_ = 0

    def observe(self, progress: Progress) -> None:
        value = progress.metrics[self.params.metric]
        if value > self.best_ + self.params.min_delta:
            self.best_, self.waited_ = value, 0
        else:
            self.waited_ += 1

    def check(self, progress: Progress) -> str | None:
        return self.name if self.waited_ >= self.params.patience else None

    def state(self) -> dict[str, np.ndarray]:
        return {"best": np.array(self.best_), "waited": np.array(self.waited_)}

    def restore(self, state: dict[str, np.ndarray]) -> None:
        self.best_ = float(state["best"])
        self.waited_ = int(state["waited"])

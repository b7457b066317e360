"""A user's own stop criterion with a history, named in a config by its import path."""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, PositiveInt

from alcli.stopping import Progress, StopCriterion


class Plateau(StopCriterion):
    """The metric has not improved for ``patience`` loops (a test double)."""

    name = "plateau_test"
    description = "The metric stopped improving."

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid", frozen=True)
        metric: str = Field("accuracy", description="A test metric.")
        patience: PositiveInt = Field(2, description="Loops without improvement.")

    def __init__(self, **params):
        super().__init__(**params)
        self.best_ = -np.inf
        self.since_best_ = 0

    def observe(self, progress: Progress) -> None:
        value = progress.metrics[self.params.metric]
        if value > self.best_:
            self.best_, self.since_best_ = value, 0
        else:
            self.since_best_ += 1

    def check(self, progress: Progress) -> str | None:
        return self.name if self.since_best_ >= self.params.patience else None

    def state(self) -> dict[str, np.ndarray]:
        return {"best": np.array(self.best_), "since_best": np.array(self.since_best_)}

    def restore(self, state: dict[str, np.ndarray]) -> None:
        self.best_ = float(state["best"])
        self.since_best_ = int(state["since_best"])

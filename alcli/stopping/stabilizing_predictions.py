"""Stop when consecutive models agree on a fixed stop set."""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, PositiveInt

from alcli.stopping.base import Progress, StopCriterion

#: The stop set's default size (also when signals are recorded without this criterion).
STOP_SET_SIZE = 2000


class StabilizingPredictionsParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    agreement: float = Field(
        0.99, gt=0, le=1, description="Stop when the mean kappa of the window reaches this."
    )
    window: PositiveInt = Field(3, description="Consecutive kappas averaged.")
    stop_set_size: PositiveInt = Field(
        STOP_SET_SIZE,
        description="Records in the stop set: a seeded random sample of the pool (labeled or "
        "not), drawn once per run; the whole pool when it is smaller.",
    )


class StabilizingPredictions(StopCriterion):
    """Cohen's kappa between the predictions of consecutive models on a fixed stop set; stop
    when the mean of the last ``window`` kappas reaches ``agreement``. Needs no labels.

    References: Bloodgood & Vijay-Shanker, "A method for stopping active learning based on
    stabilizing predictions and the need for user-adjustable stopping", CoNLL 2009.
    """

    name = "stabilizing_predictions"
    description = "Consecutive models agree on a stop set (mean Cohen's kappa of a window)."
    Params = StabilizingPredictionsParams
    needs = frozenset({"kappa"})
    replay_grid = {"agreement": [0.95, 0.99, 0.999]}  # noqa: RUF012 - read only

    def __init__(self, **params):
        super().__init__(**params)
        self.kappas_: list[float] = []

    def observe(self, progress: Progress) -> None:
        kappa = progress.signals.get("kappa", float("nan"))
        if not np.isnan(kappa):
            self.kappas_.append(float(kappa))

    def check(self, progress: Progress) -> str | None:
        window = self.kappas_[-self.params.window :]
        if len(window) == self.params.window and np.mean(window) >= self.params.agreement:
            return self.name
        return None

    def state(self) -> dict[str, np.ndarray]:
        # The last window is all that decides; a longer history would grow every loop.
        return {"kappas": np.array(self.kappas_[-self.params.window :], dtype=np.float64)}

    def restore(self, state: dict[str, np.ndarray]) -> None:
        self.kappas_ = [float(k) for k in state.get("kappas", np.empty(0))]

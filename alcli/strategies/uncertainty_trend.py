"""Uncertainty trend: label the records that have stayed uncertain over the past loops."""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from alcli.strategies import uncertainty
from alcli.strategies.base import ScoreStrategy, SelectionContext, UnsupportedInput
from alcli.strategies.uncertainty import Measure


class UncertaintyTrendParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    decay: float = Field(
        0.5,
        gt=0,
        le=1,
        description="Weight of the past, in (0, 1]: a loop k loops ago weighs decay**k in the "
        "average; 1 averages every loop equally, small values follow the latest loop.",
    )
    uncertainty: Measure = Field(
        "margin",
        description="The uncertainty averaged over loops (entropy needs predict_proba).",
    )


class UncertaintyTrend(ScoreStrategy):
    """Score = the record's uncertainty averaged over the loops it was seen in, a loop k loops
    ago weighted by ``decay**k``:

        trend_t = sum_k decay**(t - k) u_k / sum_k decay**(t - k)

    kept per record as ``trend <- (decay * w * trend + u) / (decay * w + 1)``,
    ``w <- decay * w + 1``. It is the bias-corrected form of
    ``trend <- decay * trend + (1 - decay) * u``: a record seen once scores its uncertainty
    (not shrunk towards 0), ``decay = 1`` is the plain mean over loops, and a small ``decay``
    follows the latest loop. ``uncertainty`` is ``margin`` (1 - the gap between the two top
    probabilities), ``entropy`` or ``least_confidence``; without probabilities, margin and
    least confidence come from decision values as in the strategies of those names.

    Kept between loops (checkpointed): the trend and the weight ``w`` of every pool record
    (two float64 arrays) and the last loop observed. Cost per loop: O(n_candidates x
    n_classes); memory O(n_pool).

    References: an exponentially weighted form of the uncertainty sampling of Lewis & Gale,
    "A sequential algorithm for training text classifiers", SIGIR 1994.
    """

    name = "uncertainty_trend"
    description = "Uncertainty averaged over past loops, recent loops weighted more (decay)."
    needs_proba = True
    accepts_decision = True
    Params = UncertaintyTrendParams

    def __init__(self, **params: Any):
        super().__init__(**params)
        # Over the pool, filled by the first observe(): each record's trend and its weight
        # sum_k decay**(t - k) (0 = never seen); and the last loop observed.
        self.trend_: np.ndarray | None = None
        self.weight_: np.ndarray | None = None
        self.last_loop_ = -1

    def check_model(self, estimator: Any) -> str | None:
        if self.params.uncertainty == "entropy" and not hasattr(estimator, "predict_proba"):
            return (
                f"'{self.name}' with uncertainty: entropy needs predict_proba, which "
                f"{type(estimator).__name__} does not offer with these params; use "
                "uncertainty: margin or least_confidence (they work from decision_function), "
                "or a classifier with predict_proba"
            )
        return super().check_model(estimator)

    def observe(self, ctx: SelectionContext) -> None:
        if ctx.loop <= self.last_loop_ or (ctx.proba is None and ctx.decision is None):
            return
        trend, weight = self._updated(ctx)
        if self.trend_ is None:
            self.trend_ = np.zeros(ctx.n_pool)
            self.weight_ = np.zeros(ctx.n_pool)
        elif self.trend_.shape[0] != ctx.n_pool:
            raise ValueError(
                f"strategy '{self.name}' holds a history of {self.trend_.shape[0]} records but "
                f"the pool has {ctx.n_pool}; the checkpoint belongs to other data"
            )
        self.trend_[ctx.candidates] = trend
        self.weight_[ctx.candidates] = weight
        self.last_loop_ = ctx.loop

    def score(self, ctx: SelectionContext) -> np.ndarray:
        if ctx.loop <= self.last_loop_ and self.trend_ is not None:
            return self.trend_[ctx.candidates].copy()
        # Not observed yet (a caller that skips observe): include this loop anyway.
        return self._updated(ctx)[0]

    def state(self) -> dict[str, np.ndarray]:
        if self.trend_ is None:
            return {}
        return {
            "trend": self.trend_,
            "weight": self.weight_,
            "last_loop": np.array(self.last_loop_, dtype=np.int64),
        }

    def restore(self, state: dict[str, np.ndarray]) -> None:
        if not state:
            self.trend_, self.weight_, self.last_loop_ = None, None, -1
            return
        self.trend_ = np.array(state["trend"], dtype=np.float64)
        self.weight_ = np.array(state["weight"], dtype=np.float64)
        self.last_loop_ = int(state["last_loop"])

    def _updated(self, ctx: SelectionContext) -> tuple[np.ndarray, np.ndarray]:
        """The candidates' trend and weight once this loop's uncertainty is counted, both of
        shape (n_candidates,)."""
        current = self._uncertainty(ctx)
        if self.trend_ is None:
            return current, np.ones_like(current)
        past = self.params.decay * self.weight_[ctx.candidates]
        weight = past + 1.0
        return (past * self.trend_[ctx.candidates] + current) / weight, weight

    def _uncertainty(self, ctx: SelectionContext) -> np.ndarray:
        kind = self.params.uncertainty
        if ctx.proba is not None:
            return uncertainty.MEASURES[kind](ctx.proba).astype(np.float64)
        if ctx.decision is not None and kind in uncertainty.DECISION_MEASURES:
            return uncertainty.DECISION_MEASURES[kind](ctx.decision).astype(np.float64)
        raise UnsupportedInput(
            f"strategy '{self.name}' with uncertainty: {kind} needs the model's predict_proba"
            + ("" if kind == "entropy" else " or decision_function")
        )

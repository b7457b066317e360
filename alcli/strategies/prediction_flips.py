"""Prediction flips: label the records whose predicted class keeps changing from loop to loop."""

from __future__ import annotations

import numpy as np

from alcli.strategies import uncertainty
from alcli.strategies.base import ScoreStrategy, SelectionContext, UnsupportedInput


class PredictionFlips(ScoreStrategy):
    """Score = how many times the record's predicted class changed between the loops it was
    seen in, plus 1 / (2 (1 + gap)) in (0, 0.5], where gap is the current margin between the
    two top probabilities (or decision values; the distance to the boundary for two classes).

    Every loop, :meth:`observe` takes the argmax of the selection model's probabilities (or
    decision values) for each unlabeled record, as a class code, and counts a flip when it
    differs from the class predicted the last time the record was seen. Only that last class
    and the flip count are kept per record (two int32 arrays over the pool, checkpointed),
    never the probabilities of past loops. Records with equal flip counts are ranked by
    margin, so before any flip the strategy picks exactly as ``margin`` does.

    Cost per loop: O(n_candidates x n_classes) for the argmax and the margin; memory
    O(n_pool).

    References: Toneva, Sordoni, Combes, Trischler, Bengio & Gordon, "An empirical study of
    example forgetting during deep neural network learning", ICLR 2019 (counting the changes
    of a record's prediction); Scheffer, Decomain & Wrobel, "Active hidden Markov models for
    information extraction", IDA 2001 (the margin tie-breaker).
    """

    name = "prediction_flips"
    description = "How often the predicted class changed across loops; ties by margin."
    needs_proba = True
    accepts_decision = True

    def __init__(self, **params: object):
        super().__init__(**params)
        # Over the pool, filled by the first observe(): the class code last predicted
        # (-1 = never seen) and the number of flips; and the last loop observed.
        self.last_class_: np.ndarray | None = None
        self.flips_: np.ndarray | None = None
        self.last_loop_ = -1

    def observe(self, ctx: SelectionContext) -> None:
        if ctx.loop <= self.last_loop_ or (ctx.proba is None and ctx.decision is None):
            return
        predicted, _ = _prediction(ctx)
        self.last_class_, self.flips_ = self._history(ctx.n_pool)
        self.flips_[ctx.candidates] = self._flips_with(ctx.candidates, predicted)
        self.last_class_[ctx.candidates] = predicted
        self.last_loop_ = ctx.loop

    def score(self, ctx: SelectionContext) -> np.ndarray:
        predicted, gap = _prediction(ctx)
        if ctx.loop > self.last_loop_:
            # Not observed yet (a caller that skips observe): count this loop's flips anyway.
            flips = self._flips_with(ctx.candidates, predicted)
        elif self.flips_ is not None:
            flips = self.flips_[ctx.candidates]
        else:
            flips = np.zeros(ctx.candidates.shape[0], dtype=np.int32)
        return flips + 0.5 / (1.0 + gap)

    def state(self) -> dict[str, np.ndarray]:
        if self.flips_ is None:
            return {}
        return {
            "last_class": self.last_class_,
            "flips": self.flips_,
            "last_loop": np.array(self.last_loop_, dtype=np.int64),
        }

    def restore(self, state: dict[str, np.ndarray]) -> None:
        if not state:
            self.last_class_, self.flips_, self.last_loop_ = None, None, -1
            return
        self.last_class_ = np.array(state["last_class"], dtype=np.int32)
        self.flips_ = np.array(state["flips"], dtype=np.int32)
        self.last_loop_ = int(state["last_loop"])

    def _history(self, n_pool: int) -> tuple[np.ndarray, np.ndarray]:
        if self.flips_ is None:
            return np.full(n_pool, -1, dtype=np.int32), np.zeros(n_pool, dtype=np.int32)
        if self.flips_.shape[0] != n_pool:
            raise ValueError(
                f"strategy '{self.name}' holds a history of {self.flips_.shape[0]} records but "
                f"the pool has {n_pool}; the checkpoint belongs to other data"
            )
        return self.last_class_, self.flips_

    def _flips_with(self, candidates: np.ndarray, predicted: np.ndarray) -> np.ndarray:
        """The candidates' flip counts once ``predicted`` is counted, shape (n_candidates,)."""
        if self.flips_ is None:
            return np.zeros(candidates.shape[0], dtype=np.int32)
        before = self.last_class_[candidates]
        changed = (before >= 0) & (before != predicted)
        return self.flips_[candidates] + changed.astype(np.int32)


def _prediction(ctx: SelectionContext) -> tuple[np.ndarray, np.ndarray]:
    """Each candidate's predicted class code and the gap between its two top probabilities
    (or decision values), both of shape (n_candidates,)."""
    values = ctx.proba if ctx.proba is not None else ctx.decision
    if values is not None and values.ndim == 2:
        first, second = uncertainty.top_two(values)
        gap = first - second
        column = values.argmax(axis=1)
        n_columns = values.shape[1]
    elif values is not None:  # two classes' decision values: the sign picks the class
        gap = np.abs(values)
        column = (values > 0).astype(np.int64)
        n_columns = 2
    else:
        raise UnsupportedInput(
            "strategy 'prediction_flips' needs the model's predict_proba or decision_function"
        )
    codes = ctx.column_codes(n_columns)
    return codes[column].astype(np.int32), gap

"""Ranked batch-mode: trade dissimilarity to the labeled set against uncertainty, greedily."""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from alcli.strategies import distances, uncertainty
from alcli.strategies.base import Selection, SelectionContext
from alcli.strategies.uncertainty import Measure


class RankedBatchParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    uncertainty: Measure = Field(
        "least_confidence",
        description="The uncertainty measure (entropy is divided by log(n_classes) to lie "
        "in [0, 1] like the others).",
    )
    alpha: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Weight of dissimilarity against uncertainty; default n_unlabeled / "
        "(n_unlabeled + n_labeled), so diversity dominates while few records are labeled.",
    )
    space: distances.Space = Field("features", description=distances.SPACE_DESCRIPTION)


class RankedBatch(distances.DistanceToLabeledStrategy):
    """Greedy ranking: each step picks the candidate with the highest
    ``alpha * (1 - sim) + (1 - alpha) * uncertainty``, where ``sim = 1 / (1 + d)`` and ``d`` is
    its Euclidean distance to the nearest labeled record or earlier pick; the pick then
    counts as labeled. ``alpha`` defaults to n_unlabeled / (n_unlabeled + n_labeled), fixed
    for the loop (counted before it picks, so scores decrease along the batch); with
    ``alpha: 1`` it picks like kcenter.

    Distances are kept and updated as in kcenter: in feature space an O(n_pool) array in
    the checkpoint, folded with the records labeled since the last loop
    (O(n_pool x n_new x d)); ``space: model`` recomputes them each loop
    (O(n_pool x n_labeled x d)). Each pick costs one O(n_pool x d) matrix-vector product.
    Memory O(n_pool + 2048^2). Dense and sparse features both work.

    References: Cardoso, Silva, Canuto, Moro & Gonçalves, "Ranked batch-mode active
    learning", Information Sciences 2017.
    """

    name = "ranked_batch"
    description = (
        "Greedy batch: alpha * dissimilarity to the labeled set + (1 - alpha) * uncertainty."
    )
    requires = "an embedding (transform) for space: model"
    needs_proba = True
    Params = RankedBatchParams

    def select(self, ctx: SelectionContext, n: int) -> Selection:
        if n <= 0 or ctx.candidates.shape[0] == 0:
            return Selection(np.empty(0, dtype=np.int64), np.empty(0))
        X, min_sq = self.space_and_distances(ctx)
        uncertain = uncertainty.MEASURES[self.params.uncertainty](ctx.proba)
        if self.params.uncertainty == "entropy" and ctx.proba.shape[1] > 1:
            uncertain = uncertain / np.log(ctx.proba.shape[1])
        alpha = self.params.alpha
        if alpha is None:
            n_unlabeled, n_labeled = ctx.candidates.shape[0], ctx.labeled.shape[0]
            alpha = n_unlabeled / (n_unlabeled + n_labeled)

        def score(min_sq: np.ndarray, uncertain: np.ndarray) -> np.ndarray:
            dissimilar = 1.0 - 1.0 / (1.0 + np.sqrt(min_sq))  # inf (nothing labeled) -> 1
            return alpha * dissimilar + (1.0 - alpha) * uncertain

        picks, scores = distances.farthest_first(
            X,
            distances.all_sq_norms(X),
            ctx.candidates,
            min_sq,
            n,
            ctx.rng,
            score=score,
            extra=uncertain,
        )
        return Selection(picks, scores)

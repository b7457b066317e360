"""k-center (core-set) selection: label the records farthest from everything labeled."""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from alcli.strategies import distances
from alcli.strategies.base import Selection, SelectionContext


class KCenterParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    space: distances.Space = Field("features", description=distances.SPACE_DESCRIPTION)


class KCenter(distances.DistanceToLabeledStrategy):
    """Greedy k-center: each pick is the candidate farthest (Euclidean) from its nearest
    labeled record or earlier pick; its score is that distance when it was picked, so scores
    decrease. Needs no model output.

    Each candidate's distance to the labeled set is kept between loops in feature space (an
    O(n_pool) float64 array in the checkpoint), updated with only the records labeled since:
    O(n_pool x n_new x d) per loop. ``space: model`` measures in the model's embedding, which
    changes with every refit, so it recomputes O(n_pool x n_labeled x d) each loop. Picking
    costs one O(n_pool x d) matrix-vector product per pick. Memory O(n_pool + 2048^2), never
    n_pool x n_pool. Dense and sparse features both work.

    References: Sener & Savarese, "Active learning for convolutional neural networks: a
    core-set approach", ICLR 2018.
    """

    name = "kcenter"
    description = "Core-set greedy k-center: the candidates farthest from the labeled set."
    requires = "an embedding (transform) for space: model"
    Params = KCenterParams

    def select(self, ctx: SelectionContext, n: int) -> Selection:
        if n <= 0 or ctx.candidates.shape[0] == 0:
            return Selection(np.empty(0, dtype=np.int64), np.empty(0))
        X, min_sq = self.space_and_distances(ctx)
        picks, scores = distances.farthest_first(
            X, distances.all_sq_norms(X), ctx.candidates, min_sq, n, ctx.rng
        )
        return Selection(picks, scores)

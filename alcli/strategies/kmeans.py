"""k-means batch: one record per cluster of the candidates, for a diverse batch."""

from __future__ import annotations

import warnings

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, PositiveInt

from alcli.strategies import distances
from alcli.strategies.base import Selection, SelectionContext, Strategy


class KMeansParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    sample_factor: PositiveInt = Field(
        20,
        description="k-means is fit on at most sample_factor x n candidates (a seeded "
        "sample); the pick for each centroid is still its nearest candidate of all.",
    )
    space: distances.Space = Field("features", description=distances.SPACE_DESCRIPTION)


class KMeansSampling(distances.MeasuresInSpace, Strategy):
    """k-means with n clusters over the candidates, and the candidate nearest each centroid
    (among the candidates nearest to that centroid, so the picks are distinct); a record's
    score is the number of candidates its cluster holds. Needs no model output.

    The clusters are fit on a seeded sample of at most ``sample_factor x n`` candidates
    (k-means costs O(rows x n x d) per iteration; mini-batch k-means above 20,000 sampled
    rows), then every candidate is assigned to its nearest centroid in 2048-row blocks:
    O(n_candidates x n x d). A centroid no candidate is nearest to (duplicate records) gives
    no pick; the batch is topped up at random (score 0). Memory O(n_candidates + sample).
    Randomness (sample, k-means seed, ties) comes from the loop's generator. Dense and sparse
    features both work. (``init: {method: kmeans}`` does the same for loop 0 over the pool.)

    This is the unweighted case of Zhdanov's diverse mini-batch method, which also
    pre-filters the most informative candidates and weighs k-means by informativeness.

    References: Zhdanov, "Diverse mini-batch active learning", arXiv:1901.05954 2019.
    """

    name = "kmeans"
    description = "The candidate nearest each of n k-means centroids: a diverse batch."
    requires = "an embedding (transform) for space: model"
    Params = KMeansParams

    def select(self, ctx: SelectionContext, n: int) -> Selection:
        from sklearn.exceptions import ConvergenceWarning

        n = min(int(n), ctx.candidates.shape[0])
        if n <= 0:
            return Selection(np.empty(0, dtype=np.int64), np.empty(0))
        if self.params.space == "features":
            X, rows = ctx.features, ctx.candidates
        else:  # the embedding of the candidates only, row k for candidate k
            X = distances.space(ctx, "model", ctx.candidates)
            rows = np.arange(ctx.candidates.shape[0])
        order = ctx.rng.permutation(rows.shape[0])  # seeded: sample, and ties among equals
        sample = np.sort(order[: self.params.sample_factor * n])
        random_state = int(ctx.rng.integers(2**31 - 1))
        with warnings.catch_warnings():
            # Fewer distinct records than clusters: the empty clusters are topped up below.
            warnings.simplefilter("ignore", ConvergenceWarning)
            centroids = distances.fit_kmeans(
                distances.block(X, rows[sample], 0, sample.shape[0]), n, random_state
            )
        nearest, sizes = distances.nearest_to_centroids(X, rows[order], centroids)
        found = nearest >= 0
        positions = order[nearest[found]]
        scores = sizes[found].astype(np.float64)
        best_first = np.argsort(-scores, kind="stable")
        positions, scores = positions[best_first], scores[best_first]
        if positions.shape[0] < n:
            rest = np.setdiff1d(np.arange(rows.shape[0]), positions)
            extra = ctx.rng.choice(rest, n - positions.shape[0], replace=False)
            positions = np.concatenate([positions, extra])
            scores = np.concatenate([scores, np.zeros(extra.shape[0])])
        return Selection(ctx.candidates[positions].astype(np.int64), scores)

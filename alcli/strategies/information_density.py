"""Information density: uncertainty weighted by how typical a record is of the pool."""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, PositiveInt

from alcli.seeding import rng_for
from alcli.strategies import distances, uncertainty
from alcli.strategies.base import ScoreStrategy, SelectionContext
from alcli.strategies.uncertainty import Measure


class InformationDensityParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    uncertainty: Measure = Field(
        "margin", description="The uncertainty measure the density weighs."
    )
    beta: float = Field(
        1.0, ge=0, description="Exponent of the density: 0 is plain uncertainty sampling."
    )
    sample: PositiveInt = Field(
        1000,
        description="Pool records the mean similarity is measured against (a sample drawn "
        "once per run from the seed; the whole pool when it is smaller).",
    )
    space: distances.Space = Field("features", description=distances.SPACE_DESCRIPTION)


class InformationDensity(distances.MeasuresInSpace, ScoreStrategy):
    """Score = uncertainty(x) * density(x)^beta, where density(x) is the mean similarity of
    x to a seeded sample of ``sample`` pool records, so that among equally uncertain records
    the typical ones go first, not the outliers.

    Similarity is a Gaussian kernel on Euclidean distance, ``exp(-|x - x'|^2 / h)`` with
    ``h`` the mean squared distance between sample records (a typical pair scores e^-1):
    positive, so any ``beta`` applies, and unchanged by rescaling the features. (The paper
    uses cosine similarity, which is negative for opposite vectors of centred features.)

    In feature space the density depends only on the features and the seed: it is computed
    once per run, O(n_pool x sample x d) time in 2048-row blocks, and cached (a resumed run
    recomputes the same values). ``space: model`` measures in the model's embedding, which
    changes with every refit, so it recomputes the candidates' density every loop. Memory
    O(n_pool + 2048 x sample). Dense and sparse features both work.

    References: Settles & Craven, "An analysis of active learning strategies for sequence
    labeling tasks", EMNLP 2008.
    """

    name = "information_density"
    description = "Uncertainty times mean similarity to the pool: uncertain and typical records."
    requires = "an embedding (transform) for space: model"
    needs_proba = True
    Params = InformationDensityParams

    def __init__(self, **params: Any):
        super().__init__(**params)
        self._density: np.ndarray | None = None
        self._density_of: tuple | None = None

    def score(self, ctx: SelectionContext) -> np.ndarray:
        uncertain = uncertainty.MEASURES[self.params.uncertainty](ctx.proba)
        if self.params.beta == 0 or ctx.candidates.shape[0] == 0:
            return uncertain
        return uncertain * self._candidate_density(ctx) ** self.params.beta

    def _candidate_density(self, ctx: SelectionContext) -> np.ndarray:
        sample = rng_for(ctx.seed, "information_density").choice(
            ctx.n_pool, size=min(self.params.sample, ctx.n_pool), replace=False
        )
        sample.sort()
        if self.params.space == "model":
            return mean_similarity(distances.space(ctx, "model"), ctx.candidates, sample)
        # The same features and seed give the same density: cached for the run.
        key = (ctx.seed, id(ctx.features), ctx.features.shape)
        if self._density is None or self._density_of != key:
            self._density = mean_similarity(ctx.features, None, sample)
            self._density_of = key
        return self._density[ctx.candidates]


def mean_similarity(X: Any, rows: np.ndarray | None, sample: np.ndarray) -> np.ndarray:
    """Mean Gaussian-kernel similarity of each row to the sample rows, in blocks.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_pool, d)
    rows : ndarray of shape (n,) or None
        Pool indices (None: every row of ``X``).
    sample : ndarray of shape (s,)
        Pool indices of the sample.

    Returns
    -------
    ndarray of shape (n,), values in (0, 1]
    """
    chunk = distances.CHUNK
    s = sample.shape[0]
    # Mean squared distance over all sample pairs = 2 (mean |x|^2 - |mean x|^2): O(s x d).
    sum_sq, total = 0.0, 0.0
    for start in range(0, s, chunk):
        S = distances.block(X, sample, start, start + chunk)
        sum_sq += float(distances.sq_norms(S).sum())
        total = total + np.asarray(S.sum(axis=0), dtype=np.float64).ravel()
    mean = np.asarray(total, dtype=np.float64) / s
    h = 2.0 * (sum_sq / s - float(mean @ mean))
    if not h > 1e-12:  # every sample record alike: any bandwidth ranks the same
        h = 1.0
    n = X.shape[0] if rows is None else rows.shape[0]
    similarity = np.zeros(n)
    for start in range(0, s, chunk):
        S = distances.block(X, sample, start, start + chunk)
        s_norms = distances.sq_norms(S)
        for r in range(0, n, chunk):
            D = distances.sq_distances(distances.block(X, rows, r, r + chunk), S, b_norms=s_norms)
            D *= -1.0 / h
            similarity[r : r + D.shape[0]] += np.exp(D, out=D).sum(axis=1)
    return similarity / s

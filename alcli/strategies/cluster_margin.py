"""Cluster-Margin: the most uncertain records, spread over clusters of the uncertain ones."""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, PositiveInt

from alcli.strategies import distances, uncertainty
from alcli.strategies.base import Selection, SelectionContext, Strategy, select_top

# Average linkage needs all m(m-1)/2 distances (100 MB at 5,000 rows, which scipy copies):
# above this many rows, k-means instead.
AVERAGE_LINKAGE_MAX = 5_000


class ClusterMarginParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    candidates_factor: PositiveInt = Field(
        10,
        description="How many of the lowest-margin candidates are clustered, as a multiple "
        "of the loop size n.",
    )
    space: distances.Space = Field("features", description=distances.SPACE_DESCRIPTION)


class ClusterMargin(distances.MeasuresInSpace, Strategy):
    """Takes the ``candidates_factor x n`` candidates with the smallest margin, clusters them
    into n clusters, then goes round-robin over the clusters, smallest first, taking each
    one's most uncertain record not yet taken, until n are picked. A pick's score is its
    margin score (1 - the gap between the top two probabilities, or minus the gap between
    the top two decision values); the batch is listed by it.

    The paper clusters the whole pool once, with average-linkage agglomerative clustering;
    here only the m = candidates_factor x n uncertain ones are clustered, each loop, which
    keeps the pool's cost O(n_candidates): average linkage on their m(m-1)/2 distances
    (computed in blocks) while m <= 5,000, O(m^2) time and memory (about 230 MB at 5,000),
    else k-means (O(m x n x d) per iteration, seeded from the loop's generator).
    ``space: model`` clusters in the model's embedding, as the paper does with its network's.
    Dense and sparse features both work.

    References: Citovsky, DeSalvo, Gentile, Karydas, Rajagopalan, Rostamizadeh & Kumar,
    "Batch active learning at scale", NeurIPS 2021.
    """

    name = "cluster_margin"
    description = "Round-robin over clusters of the lowest-margin candidates, smallest first."
    requires = "an embedding (transform) for space: model"
    needs_proba = True
    accepts_decision = True
    Params = ClusterMarginParams

    def select(self, ctx: SelectionContext, n: int) -> Selection:
        n_candidates = ctx.candidates.shape[0]
        if ctx.proba is None and ctx.decision is not None:
            scores = uncertainty.margin_of_decision(ctx.decision)
        else:
            scores = uncertainty.margin(ctx.proba)
        m = min(n_candidates, self.params.candidates_factor * max(int(n), 0))
        # The m most uncertain, most uncertain first, ties in a seeded order.
        top = select_top(scores, np.arange(n_candidates), m, ctx.rng)
        if m <= n:
            return Selection(ctx.candidates[top.indices], top.scores)
        if self.params.space == "features":
            X, rows = ctx.features, ctx.candidates[top.indices]
        else:
            X, rows = distances.space(ctx, "model", ctx.candidates[top.indices]), np.arange(m)
        labels = cluster(X, rows, n, ctx.rng)
        chosen = np.sort(round_robin(labels, n))
        return Selection(ctx.candidates[top.indices[chosen]], top.scores[chosen])


def cluster(X: Any, rows: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Cluster labels (0 ... < k) of pool rows ``rows``, shape (m,): average linkage cut at
    k clusters up to 5,000 rows, else k-means seeded from ``rng``."""
    m = rows.shape[0]
    if m <= AVERAGE_LINKAGE_MAX:
        from scipy.cluster.hierarchy import fcluster, linkage

        Z = linkage(condensed_distances(X, rows), method="average")
        return fcluster(Z, t=k, criterion="maxclust").astype(np.int64) - 1
    from sklearn.cluster import KMeans

    km = KMeans(n_clusters=k, random_state=int(rng.integers(2**31 - 1)), n_init=1)
    return km.fit(distances.block(X, rows, 0, m)).labels_.astype(np.int64)


def condensed_distances(X: Any, rows: np.ndarray) -> np.ndarray:
    """Euclidean distances between all pairs of ``rows`` in scipy's condensed form, shape
    (m(m-1)/2,), computed a block of rows at a time against the rows after it."""
    chunk, m = distances.CHUNK, rows.shape[0]
    out = np.empty(m * (m - 1) // 2)
    norms = np.concatenate(
        [distances.sq_norms(distances.block(X, rows, s, s + chunk)) for s in range(0, m, chunk)]
    )
    step = max(1, chunk * chunk // max(m, 1))  # a block of D is at most chunk^2 floats
    for r in range(0, m, step):
        A = distances.block(X, rows, r, r + step)
        stop = r + A.shape[0]
        D = np.empty((A.shape[0], m - r))  # columns r ... m-1: the upper triangle and a bit
        for c in range(r, m, chunk):
            B = distances.block(X, rows, c, c + chunk)
            D[:, c - r : c - r + B.shape[0]] = distances.sq_distances(
                A, B, norms[r:stop], norms[c : c + B.shape[0]]
            )
        np.sqrt(D, out=D)
        for i in range(r, stop):
            start = m * i - i * (i + 1) // 2
            out[start : start + m - i - 1] = D[i - r, i - r + 1 :]
    return out


def round_robin(labels: np.ndarray, n: int) -> np.ndarray:
    """Positions of ``n`` members taken round-robin over the clusters, smallest cluster first
    (equal sizes: the one with the earlier first member), each cluster's members in order.

    Parameters
    ----------
    labels : ndarray of shape (m,)
        Cluster of each position; positions are in preference order (most uncertain first).
    n : int

    Returns
    -------
    ndarray of shape (min(n, m),)
        In the order taken.
    """
    m = labels.shape[0]
    _, labels = np.unique(labels, return_inverse=True)
    sizes = np.bincount(labels)
    first_seen = np.full(sizes.shape[0], m)
    np.minimum.at(first_seen, labels, np.arange(m))
    cluster_rank = np.empty(sizes.shape[0], dtype=np.int64)
    cluster_rank[np.lexsort((first_seen, sizes))] = np.arange(sizes.shape[0])
    # Each member's place within its cluster: 0 for the most uncertain, 1 for the next...
    by_cluster = np.argsort(labels, kind="stable")
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    within = np.empty(m, dtype=np.int64)
    within[by_cluster] = np.arange(m) - np.repeat(starts, sizes)
    return np.lexsort((cluster_rank[labels], within))[:n]

"""Loop 0's SELECT: the initial set, chosen before any model exists."""

from __future__ import annotations

import numpy as np


def random_init(n_pool: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """``size`` distinct pool indices drawn uniformly, shape (min(size, n_pool),)."""
    return rng.choice(n_pool, size=min(size, n_pool), replace=False).astype(np.int64)


def kmeans_init(X: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """The record nearest each k-means centroid: a diverse initial set without labels.

    Mini-batch k-means keeps large pools cheap; distances are computed in chunks, never as an
    n_pool x n_pool matrix. Each record belongs to one cluster, so the picks are distinct; a
    cluster left empty gives no pick and the set is topped up at random.

    References: Zhu et al., "Active learning with sampling by uncertainty and density for word
    sense disambiguation and text classification", COLING 2008 (k-means initial sets).

    Returns
    -------
    ndarray of shape (min(size, n_pool),)
    """
    from sklearn.cluster import KMeans, MiniBatchKMeans
    from sklearn.metrics import pairwise_distances_argmin_min

    size = min(size, X.shape[0])
    random_state = int(rng.integers(2**31 - 1))
    if X.shape[0] > 20_000:
        km = MiniBatchKMeans(n_clusters=size, random_state=random_state, n_init=3)
    else:
        km = KMeans(n_clusters=size, random_state=random_state, n_init=3)
    km.fit(X)
    cluster, distance = pairwise_distances_argmin_min(X, km.cluster_centers_)
    # The nearest member of each cluster: order by (cluster, distance), take each first row.
    order = np.lexsort((distance, cluster))
    first = np.ones(order.shape[0], dtype=bool)
    first[1:] = cluster[order][1:] != cluster[order][:-1]
    picks = order[first]
    if picks.shape[0] < size:
        rest = np.setdiff1d(np.arange(X.shape[0]), picks)
        picks = np.concatenate([picks, rng.choice(rest, size - picks.shape[0], replace=False)])
    return np.sort(picks).astype(np.int64)

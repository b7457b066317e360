"""Euclidean distances between pool rows in bounded memory, for the density and diversity
strategies (information_density, kcenter, kmeans, cluster_margin, ranked_batch).

Never an n_pool x n_pool matrix: every function works on blocks of at most ``CHUNK`` rows
against ``CHUNK`` others (``CHUNK**2`` float64 = 32 MB), and what it keeps is O(n_rows).
Rows are pool indices into one matrix ``X`` (the features, or the model's embedding of every
pool record, see :func:`space`): only a block of rows is ever gathered, never the pool.

Squared distances are ``|a|^2 + |b|^2 - 2 a.b`` (one matrix product per block), clipped at 0.
Dense and scipy sparse ``X`` both work: a sparse block stays sparse up to its dot products.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import numpy as np

from alcli.models import describe_model, embedding_of, has_embedding
from alcli.strategies.base import SelectionContext, Strategy, UnsupportedInput

CHUNK = 2048

Space = Literal["features", "model"]
SPACE_DESCRIPTION = (
    "Where distances are measured: 'features' (the pool's features) or 'model' (the selection "
    "model's own embedding, recomputed each loop: a pipeline's output before its last step "
    "(model.steps), or the classifier's transform, e.g. LinearDiscriminantAnalysis)."
)


# --- the space distances are measured in ----------------------------------------------------


def space(ctx: SelectionContext, kind: Space, indices: np.ndarray | None = None) -> Any:
    """The vectors a strategy measures distances in, one row per pool record.

    ``features`` returns ``ctx.features`` itself (no copy). ``model`` embeds the pool with the
    selection model (``ctx.learner.embed``: the output of every step of a pipeline but the
    last, or the model's ``transform``), in chunks. A loop whose labels hold a single class
    has a constant stand-in model with no embedding; that loop measures in feature space
    instead.

    Parameters
    ----------
    ctx : SelectionContext
    kind : {"features", "model"}
    indices : ndarray of shape (n,), optional
        Only these pool rows (default: every pool row).

    Returns
    -------
    ndarray or sparse matrix of shape (n_pool, d) or (n, d)
    """
    if kind == "features" or (ctx.model is not None and embedding_of(ctx.model) is None):
        return ctx.features if indices is None else ctx.features[indices]
    if ctx.learner is None or ctx.model is None:
        raise UnsupportedInput(
            "space: model measures distances in the selection model's embedding, and this "
            "context has no model or learner; use space: features"
        )
    rows = np.arange(ctx.n_pool) if indices is None else indices
    return ctx.learner.embed(ctx.model, ctx.features, rows)


def space_problem(name: str, kind: Space, estimator: Any) -> str | None:
    """Why ``estimator`` (unfitted) cannot give strategy ``name`` its ``space``, or None."""
    if kind != "model" or has_embedding(estimator):
        return None
    return (
        f"'{name}' with space: model measures distances in the model's embedding, and "
        f"{describe_model(estimator)} has none (no transform, and no steps before the "
        "classifier); use a model that embeds (a pipeline, model.steps: [{estimator: "
        "sklearn.preprocessing.StandardScaler}, {estimator: sklearn.decomposition.PCA}, "
        "{estimator: sklearn.linear_model.LogisticRegression}], or LinearDiscriminantAnalysis) "
        "or space: features"
    )


# --- blocks ---------------------------------------------------------------------------------


def _is_sparse(X: Any) -> bool:
    return hasattr(X, "tocsr") and not isinstance(X, np.ndarray)


def _dense(block: Any) -> Any:
    return block if _is_sparse(block) else np.asarray(block, dtype=np.float64)


def block(X: Any, rows: np.ndarray | None, start: int, stop: int) -> Any:
    """Rows ``start:stop`` of ``X`` (``rows`` None) or of ``X[rows]``, gathering only those;
    a dense block as float64, a sparse one as it is."""
    return _dense(X[start:stop] if rows is None else X[rows[start:stop]])


def sq_norms(A: Any) -> np.ndarray:
    """Squared Euclidean norm of each row, shape (n,) from (n, d) dense or sparse."""
    if _is_sparse(A):
        return np.asarray(A.multiply(A).sum(axis=1), dtype=np.float64).ravel()
    A = np.asarray(A, dtype=np.float64)
    return np.einsum("ij,ij->i", A, A)


def sq_distances(
    A: Any, B: Any, a_norms: np.ndarray | None = None, b_norms: np.ndarray | None = None
) -> np.ndarray:
    """Squared Euclidean distances between the rows of two blocks.

    Parameters
    ----------
    A : ndarray or sparse matrix of shape (a, d)
    B : ndarray or sparse matrix of shape (b, d)
        Keep both chunk-sized: the result is dense.
    a_norms, b_norms : ndarray of shape (a,) and (b,), optional
        :func:`sq_norms` of ``A`` and ``B`` when already known.

    Returns
    -------
    ndarray of shape (a, b), float64, >= 0
    """
    A, B = _dense(A), _dense(B)
    product = A @ B.T
    D = np.asarray(product.toarray() if _is_sparse(product) else product, dtype=np.float64)
    D *= -2.0
    D += (sq_norms(A) if a_norms is None else a_norms)[:, None]
    D += (sq_norms(B) if b_norms is None else b_norms)[None, :]
    return np.maximum(D, 0.0, out=D)


def min_sq_distances(
    X: Any,
    rows: np.ndarray | None,
    targets: np.ndarray,
    out: np.ndarray | None = None,
    chunk: int = CHUNK,
) -> np.ndarray:
    """Each row's squared distance to its nearest target row, in ``chunk x chunk`` blocks.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_pool, d)
    rows : ndarray of shape (n,) or None
        Pool indices measured from (None: every row of ``X``, read as slices, no gather).
    targets : ndarray of shape (m,)
        Pool indices measured to (the labeled set, or the records labeled since last time).
    out : ndarray of shape (n,), optional
        Distances so far (inf where none): lowered in place, so targets can be folded in
        batch after batch.

    Returns
    -------
    ndarray of shape (n,), float64
        ``out``; inf where there are no targets.
    """
    n = X.shape[0] if rows is None else rows.shape[0]
    if out is None:
        out = np.full(n, np.inf)
    for t in range(0, targets.shape[0], chunk):
        T = block(X, targets, t, t + chunk)
        t_norms = sq_norms(T)
        for r in range(0, n, chunk):
            R = block(X, rows, r, r + chunk)
            nearest = sq_distances(R, T, b_norms=t_norms).min(axis=1)
            np.minimum(out[r : r + nearest.shape[0]], nearest, out=out[r : r + nearest.shape[0]])
    return out


def sq_distances_to_row(X: Any, norms: np.ndarray, j: int) -> np.ndarray:
    """Squared distance of every row of ``X`` to row ``j``: one matrix-vector product, no
    gather; shape (n_pool,) from ``norms`` = :func:`sq_norms` of every row, shape (n_pool,)."""
    x = X[j]
    if _is_sparse(X):
        product = np.asarray((X @ x.T).toarray(), dtype=np.float64).ravel()
    else:
        product = np.asarray(X @ x, dtype=np.float64)
    product *= -2.0
    product += norms
    product += norms[j]
    return np.maximum(product, 0.0, out=product)


def all_sq_norms(X: Any, chunk: int = CHUNK) -> np.ndarray:
    """:func:`sq_norms` of every row of ``X``, computed a chunk at a time, shape (n_pool,)."""
    return np.concatenate(
        [sq_norms(block(X, None, s, s + chunk)) for s in range(0, X.shape[0], chunk)]
        or [np.empty(0)]
    )


# --- centroids ------------------------------------------------------------------------------


def nearest_centroid(
    X: Any, rows: np.ndarray, centroids: np.ndarray, chunk: int = CHUNK
) -> tuple[np.ndarray, np.ndarray]:
    """Each row's nearest centroid and its squared distance, a chunk of rows at a time.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_pool, d)
    rows : ndarray of shape (n,)
        Pool indices.
    centroids : ndarray of shape (k, d)

    Returns
    -------
    assign : ndarray of shape (n,), int64
    sq_distance : ndarray of shape (n,), float64
    """
    centroids = np.asarray(centroids, dtype=np.float64)
    c_norms = sq_norms(centroids)
    step = max(1, min(chunk, chunk * chunk // max(1, centroids.shape[0])))
    assign = np.empty(rows.shape[0], dtype=np.int64)
    distance = np.empty(rows.shape[0])
    for r in range(0, rows.shape[0], step):
        D = sq_distances(block(X, rows, r, r + step), centroids, b_norms=c_norms)
        assign[r : r + D.shape[0]] = D.argmin(axis=1)
        distance[r : r + D.shape[0]] = D[np.arange(D.shape[0]), assign[r : r + D.shape[0]]]
    return assign, distance


#: Above this many rows, k-means is fit mini-batch (a large pool stays cheap).
MINIBATCH_ABOVE = 20_000


def fit_kmeans(X: Any, n_clusters: int, random_state: int) -> np.ndarray:
    """The centroids of k-means on rows ``X``, shape (n_clusters, d): full k-means, or
    mini-batch k-means above :data:`MINIBATCH_ABOVE` rows; three seeded initializations."""
    from sklearn.cluster import KMeans, MiniBatchKMeans

    if X.shape[0] > MINIBATCH_ABOVE:
        km = MiniBatchKMeans(n_clusters=n_clusters, random_state=random_state, n_init=3)
    else:
        km = KMeans(n_clusters=n_clusters, random_state=random_state, n_init=3)
    return km.fit(X).cluster_centers_


def nearest_to_centroids(
    X: Any, rows: np.ndarray, centroids: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """For each centroid, its nearest row among the rows nearest to it (so no row is given
    to two centroids); among equally near rows, the first in ``rows``.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_pool, d)
    rows : ndarray of shape (n,)
        Pool indices; shuffle them first for a seeded tie-break.
    centroids : ndarray of shape (k, d)

    Returns
    -------
    nearest : ndarray of shape (k,), int64
        Positions into ``rows``; -1 for a centroid no row is nearest to.
    sizes : ndarray of shape (k,), int64
        How many rows are nearest to each centroid.
    """
    assign, distance = nearest_centroid(X, rows, centroids)
    order = np.lexsort((distance, assign))  # stable: equal distances keep the order of rows
    first = np.ones(order.shape[0], dtype=bool)
    first[1:] = assign[order][1:] != assign[order][:-1]
    nearest = np.full(centroids.shape[0], -1, dtype=np.int64)
    nearest[assign[order[first]]] = order[first]
    return nearest, np.bincount(assign, minlength=centroids.shape[0])


# --- greedy farthest-first ------------------------------------------------------------------


def farthest_first(
    X: Any,
    norms: np.ndarray,
    candidates: np.ndarray,
    min_sq: np.ndarray,
    n: int,
    rng: np.random.Generator,
    score: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
    extra: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Pick ``n`` candidates one at a time, each the best by ``score`` of its distance to the
    nearest of the labeled records and the picks so far, which then count as labeled.

    Each pick costs one matrix-vector product over ``X`` (O(n_pool x d)) and O(n_candidates)
    updates: O(n x n_pool x d) in all, memory O(n_pool).

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_pool, d)
    norms : ndarray of shape (n_pool,)
        :func:`all_sq_norms` of ``X``.
    candidates : ndarray of shape (n_candidates,)
        Pool indices.
    min_sq : ndarray of shape (n_candidates,)
        Each candidate's squared distance to the nearest labeled record (inf: none); not
        modified.
    n : int
    rng : numpy.random.Generator
        Candidates with equal scores are taken in a seeded random order, not by position.
    score : callable, optional
        ``score(min_sq, extra)`` -> scores, higher first, for arrays in one (shuffled)
        candidate order; default: the Euclidean distance (k-center).
    extra : ndarray of shape (n_candidates,), optional
        Per-candidate values handed to ``score`` in the same order (e.g. uncertainties).

    Returns
    -------
    picks : ndarray of shape (min(n, n_candidates),)
        Pool indices in pick order.
    scores : ndarray of the same shape
        Each pick's score when it was picked.
    """
    n = min(int(n), candidates.shape[0])
    order = rng.permutation(candidates.shape[0])
    rows = candidates[order]
    work = min_sq[order].copy()
    extra = None if extra is None else extra[order]
    picks = np.empty(n, dtype=np.int64)
    scores = np.empty(n)
    taken = np.zeros(rows.shape[0], dtype=bool)
    for k in range(n):
        values = np.sqrt(work) if score is None else score(work, extra)
        values[taken] = -np.inf
        best = int(np.argmax(values))
        picks[k], scores[k] = rows[best], values[best]
        taken[best] = True
        if k + 1 < n:
            np.minimum(work, sq_distances_to_row(X, norms, rows[best])[rows], out=work)
    return picks, scores


class LabeledDistances:
    """Every pool row's squared distance to the nearest labeled record, kept up to date by
    folding in only the records labeled since the last update (``labeled`` is in acquisition
    order). O(n_pool) memory; checkpointed through :meth:`state`, so a resumed run folds
    in the same batches and keeps the same bits.
    """

    def __init__(self) -> None:
        self.min_sq: np.ndarray | None = None
        self.folded = 0

    def update(self, X: Any, labeled: np.ndarray) -> np.ndarray:
        """Fold in ``labeled[folded:]``; idempotent. Returns ``min_sq``, shape (n_pool,)."""
        if self.min_sq is None or self.min_sq.shape[0] != X.shape[0] or self.folded > len(labeled):
            self.min_sq, self.folded = np.full(X.shape[0], np.inf), 0
        new = np.asarray(labeled[self.folded :], dtype=np.int64)
        if new.shape[0]:
            min_sq_distances(X, None, new, out=self.min_sq)
        self.folded = int(labeled.shape[0])
        return self.min_sq

    def state(self) -> dict[str, np.ndarray]:
        if self.min_sq is None:
            return {}
        return {"min_sq": self.min_sq, "folded": np.array(self.folded, dtype=np.int64)}

    def restore(self, state: dict[str, np.ndarray]) -> None:
        if "min_sq" in state:
            self.min_sq = np.array(state["min_sq"], dtype=np.float64)
            self.folded = int(state["folded"])
        else:
            self.min_sq, self.folded = None, 0


class MeasuresInSpace:
    """For strategies with a ``space`` parameter: refuse a model without an embedding for
    ``space: model``, and missing feature values for ``space: features``."""

    @property
    def accepts_nan(self) -> bool:
        # Distances between raw features with gaps mean nothing; the model's embedding
        # (a Pipeline that imputes, say) has none.
        return self.params.space == "model"

    def check_model(self, estimator: Any) -> str | None:
        return super().check_model(estimator) or space_problem(
            self.name, self.params.space, estimator
        )


class DistanceToLabeledStrategy(MeasuresInSpace, Strategy):
    """The part kcenter and ranked_batch share: each candidate's squared distance to the
    labeled set, in the space their ``space`` parameter names, kept between loops (and in the
    checkpoint) in feature space and recomputed each loop in the model's embedding."""

    def __init__(self, **params: Any):
        super().__init__(**params)
        self._labeled = LabeledDistances()

    def observe(self, ctx: SelectionContext) -> None:
        if self.params.space == "features":
            self._labeled.update(ctx.features, ctx.labeled)

    def space_and_distances(self, ctx: SelectionContext) -> tuple[Any, np.ndarray]:
        """The rows distances are measured on, and every candidate's squared distance to
        the nearest labeled record, shape (n_candidates,)."""
        X = space(ctx, self.params.space)
        if self.params.space == "features":
            return X, self._labeled.update(X, ctx.labeled)[ctx.candidates]
        return X, min_sq_distances(X, ctx.candidates, ctx.labeled)

    def state(self) -> dict[str, np.ndarray]:
        return self._labeled.state()

    def restore(self, state: dict[str, np.ndarray]) -> None:
        self._labeled.restore(state)

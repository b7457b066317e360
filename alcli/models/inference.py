"""Inference over pool rows in chunks (bounded memory, parallel threads), and a model's own
embedding of records."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from joblib import Parallel, delayed

from alcli.pool import release_rows


def predict_proba_chunked(
    model: Any, X: np.ndarray, indices: np.ndarray, chunk_size: int, n_jobs: int = 1
) -> np.ndarray:
    """``model.predict_proba(X[indices])`` without materializing ``X[indices]``.

    Parameters
    ----------
    model : fitted classifier with predict_proba
    X : ndarray of shape (n_pool, n_features)
    indices : ndarray of shape (n,)
    chunk_size : int
        Rows gathered and predicted at a time: memory stays O(chunk_size * n_features).
    n_jobs : int
        Threads; numpy and scikit-learn release the GIL in the heavy parts, and threads share
        X instead of copying it to worker processes.

    Returns
    -------
    ndarray of shape (n, n_classes_of_model)
    """
    return apply_chunked(
        model.predict_proba, X, indices, chunk_size, n_jobs, width=len(model.classes_)
    )


def apply_chunked(
    method: Callable[[Any], np.ndarray],
    X: Any,
    indices: np.ndarray,
    chunk_size: int,
    n_jobs: int = 1,
    dtype: Any = np.float64,
    width: int | None = None,
) -> np.ndarray:
    """``method(X[indices])`` computed ``chunk_size`` rows at a time into one output array.

    Returns
    -------
    ndarray of shape (n,) or (n, k)
        As ``method`` returns for a chunk; with no indices, shape (0,) or (0, width).
    """
    n = indices.shape[0]
    if n == 0:
        return np.empty((0,) if width is None else (0, width), dtype=dtype)
    starts = list(range(0, n, chunk_size))
    first = np.asarray(method(_gather(X, indices[:chunk_size])))
    out = np.empty((n, *first.shape[1:]), dtype=dtype)
    out[: first.shape[0]] = first

    def fill(start: int) -> None:
        rows = indices[start : start + chunk_size]
        out[start : start + rows.shape[0]] = method(_gather(X, rows))

    rest = starts[1:]
    if n_jobs == 1 or len(rest) <= 1:
        for start in rest:
            fill(start)
    else:
        Parallel(n_jobs=n_jobs, backend="threading")(delayed(fill)(s) for s in rest)
    return out


def _gather(X: Any, rows: np.ndarray) -> Any:
    """``X[rows]``; from a memory-mapped pool, its pages released again at once."""
    block = X[rows]
    if isinstance(X, np.memmap) and rows.size:
        release_rows(X, int(rows.min()), int(rows.max()) + 1)
    return block


def embedding_of(model: Any) -> Callable[[Any], np.ndarray] | None:
    """The model's own embedding of records, or None: the steps before a Pipeline's final
    classifier, or the classifier's ``transform`` (LinearDiscriminantAnalysis, ...)."""
    steps = getattr(model, "steps", None)
    if isinstance(steps, list) and len(steps) > 1:
        return model[:-1].transform
    transform = getattr(model, "transform", None)
    return transform if callable(transform) else None


def has_embedding(estimator: Any) -> bool:
    """Whether an (unfitted) estimator will have :func:`embedding_of` once fitted."""
    return embedding_of(estimator) is not None

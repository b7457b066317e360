"""Build the configured estimator, fit it (from scratch or warm), and infer in chunks."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from joblib import Parallel, delayed
from sklearn.dummy import DummyClassifier

from alcli.classes import codes_of
from alcli.config import ModelConfig
from alcli.seeding import random_state_for


def build_model(cfg: ModelConfig, seed: int, loop: int, purpose: str = "model") -> Any:
    """A fresh estimator; one that takes ``random_state`` gets one derived from seed, purpose
    and loop (unless ``params`` sets it)."""
    estimator = cfg.build()
    if "random_state" in estimator.get_params() and "random_state" not in cfg.params:
        estimator.set_params(random_state=random_state_for(seed, purpose, loop))
    return estimator


def fit_model(
    cfg: ModelConfig,
    previous: Any,
    X: np.ndarray,
    y: np.ndarray,
    seed: int,
    loop: int,
    purpose: str = "model",
) -> Any:
    """Fit on every label so far.

    ``retrain: scratch`` builds a new estimator; ``warm_start`` refits the previous loop's one
    with ``warm_start=True`` (a fresh one when there is none yet). With a single class among
    the labels no classifier can be fit, so a constant predictor stands in for that loop.
    """
    if np.unique(y).shape[0] < 2:
        return DummyClassifier(strategy="most_frequent").fit(X, y)
    fresh = build_model(cfg, seed, loop, purpose)
    if cfg.retrain == "warm_start" and previous is not None and type(previous) is type(fresh):
        model = previous
        if "random_state" in fresh.get_params():
            model.set_params(random_state=fresh.get_params()["random_state"])
    else:
        model = fresh
    if cfg.retrain == "warm_start":
        model.set_params(warm_start=True)
    return model.fit(X, y)


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
    first = np.asarray(method(X[indices[:chunk_size]]))
    out = np.empty((n, *first.shape[1:]), dtype=dtype)
    out[: first.shape[0]] = first

    def fill(start: int) -> None:
        rows = indices[start : start + chunk_size]
        out[start : start + rows.shape[0]] = method(X[rows])

    rest = starts[1:]
    if n_jobs == 1 or len(rest) <= 1:
        for start in rest:
            fill(start)
    else:
        Parallel(n_jobs=n_jobs, backend="threading")(delayed(fill)(s) for s in rest)
    return out


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


@dataclass(frozen=True)
class Learner:
    """Fits fresh copies of the selection model for strategies that train their own
    (committees, look-ahead), and predicts or embeds pool rows in chunks.

    Copies are fit on the data's labels (so ``params`` keyed by label, like ``class_weight``,
    work) and report back in class codes: probabilities aligned to every class of the data
    (:meth:`proba`) even when a copy saw only some, and predictions as codes (:meth:`predict`).

    Attributes
    ----------
    cfg : ModelConfig
        The selection model's config.
    seed, loop : int
        A copy's ``random_state`` derives from them and its ``member`` number.
    n_classes : int
    chunk_size, n_jobs : int
        For chunked inference and for fitting copies in parallel (threads).
    classes : ndarray of shape (n_classes,) or None
        The class values in code order (a code is an index into it; classes added during the
        run come last, so they need not be sorted); None when codes are the labels.
    """

    cfg: ModelConfig
    seed: int
    loop: int
    n_classes: int
    chunk_size: int = 16384
    n_jobs: int = 1
    classes: np.ndarray | None = None

    def build(self, member: int = 0) -> Any:
        """A fresh unfitted copy, seeded for (seed, loop, member)."""
        return build_model(self.cfg, self.seed, self.loop, purpose=f"member-{member}")

    def fit(self, X: Any, codes: np.ndarray, member: int = 0) -> Any:
        """A copy fit on rows ``X`` with class codes ``codes`` (one class: a constant model)."""
        y = codes if self.classes is None else self.classes[codes]
        if np.unique(codes).shape[0] < 2:
            return DummyClassifier(strategy="most_frequent").fit(X, y)
        return self.build(member).fit(X, y)

    def codes_of(self, model: Any) -> np.ndarray:
        """The class code of each of a fitted model's ``classes_``, shape (n_model_classes,)."""
        if self.classes is None:
            return np.asarray(model.classes_).astype(np.int64)
        return codes_of(self.classes, np.asarray(model.classes_))

    def fit_many(
        self, jobs: list[tuple[Any, np.ndarray]], members: list[int] | None = None
    ) -> list[Any]:
        """Fit one copy per ``(X, codes)`` pair in parallel threads.

        ``members`` gives each copy's member number (its seed); by default the k-th job is
        member k. Equal numbers give equal seeds: look-ahead refits that should differ only by
        their data (expected error reduction) share one.
        """
        numbers = range(len(jobs)) if members is None else members
        pairs = list(zip(numbers, jobs, strict=True))
        if self.n_jobs == 1 or len(jobs) <= 1:
            return [self.fit(X, codes, k) for k, (X, codes) in pairs]
        return Parallel(n_jobs=self.n_jobs, backend="threading")(
            delayed(self.fit)(X, codes, k) for k, (X, codes) in pairs
        )

    def proba(self, model: Any, X: Any, indices: np.ndarray) -> np.ndarray:
        """Probabilities of shape (n, n_classes) for pool rows ``indices``, aligned to class
        codes (0 for classes the copy never saw), from a copy fit by :meth:`fit`."""
        seen = self.codes_of(model)
        raw = apply_chunked(
            model.predict_proba, X, indices, self.chunk_size, self.n_jobs, width=seen.shape[0]
        )
        if seen.shape[0] == self.n_classes and (seen == np.arange(self.n_classes)).all():
            return raw
        out = np.zeros((indices.shape[0], self.n_classes))
        out[:, seen] = raw
        return out

    def predict(self, model: Any, X: Any, indices: np.ndarray) -> np.ndarray:
        """``model.predict`` for pool rows ``indices`` as class codes, shape (n,)."""
        values = apply_chunked(
            model.predict, X, indices, self.chunk_size, self.n_jobs, dtype=object
        ).astype(np.asarray(model.classes_).dtype)
        if self.classes is None:
            return values.astype(np.int64)
        return codes_of(self.classes, values)

    def embed(self, model: Any, X: Any, indices: np.ndarray) -> np.ndarray:
        """The fitted model's embedding of pool rows ``indices``, shape (n, n_dims).

        Raises
        ------
        ValueError
            When the model has no embedding (check with :func:`has_embedding` first).
        """
        transform = embedding_of(model)
        if transform is None:
            raise ValueError(f"{type(model).__name__} has no embedding (no transform)")
        return apply_chunked(transform, X, indices, self.chunk_size, self.n_jobs)


def blas_threads(n: int) -> contextlib.AbstractContextManager:
    """Limit BLAS to ``n`` threads for the block (-1: leave it as it is).

    On small matrices (a labeled set of a few thousand rows) OpenBLAS threads mostly wait on
    each other: measured here, a LogisticRegression fit took 0.625 s with the default 2 threads
    and 0.038 s with 1. Inference is parallel over chunks instead (``model.n_jobs``).
    """
    if n == -1:
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=n, user_api="blas")


def accepts_nan(model: Any) -> bool:
    """Whether the estimator says it can fit and predict with missing values."""
    from sklearn.utils import get_tags

    try:
        return bool(get_tags(model).input_tags.allow_nan)
    except (AttributeError, TypeError):
        return False

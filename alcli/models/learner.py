"""The Learner: fresh, seeded copies of the selection model for strategies that train their
own (committees, look-ahead), with chunked prediction and embedding in class codes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from joblib import Parallel, delayed
from sklearn.dummy import DummyClassifier

from alcli.classes import codes_of
from alcli.models.config import ModelConfig
from alcli.models.fitting import build_model
from alcli.models.inference import apply_chunked, embedding_of
from alcli.seeding import member as member_purpose


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
        return build_model(self.cfg, self.seed, self.loop, purpose=member_purpose(member))

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

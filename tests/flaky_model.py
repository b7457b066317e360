"""Classifiers that misbehave on purpose: one fails on demand, one records BLAS threads, one
offers no scores, to test what a run does with them."""

from __future__ import annotations

import os

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression


class FailsAfter(LogisticRegression):
    """Raises in fit once it sees more than ``$ALCLI_TEST_FAIL_ABOVE`` records."""

    def fit(self, X, y, sample_weight=None):
        limit = os.environ.get("ALCLI_TEST_FAIL_ABOVE")
        if limit is not None and X.shape[0] > int(limit):
            raise RuntimeError("the GPU caught fire")
        return super().fit(X, y, sample_weight)


class RecordsBlasThreads(LogisticRegression):
    """Notes how many threads BLAS may use while it fits (in ``seen``, for the test to read)."""

    seen: list[int] = []  # noqa: RUF012 - written by the class, read by one test

    def fit(self, X, y, sample_weight=None):
        from threadpoolctl import threadpool_info

        blas = [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]
        type(self).seen.append(max(blas))
        return super().fit(X, y, sample_weight)


class PredictsOnly(ClassifierMixin, BaseEstimator):
    """A classifier with neither predict_proba nor decision_function (a nearest-prototype rule)."""

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        self.means_ = np.stack([X[y == c].mean(axis=0) for c in self.classes_])
        return self

    def predict(self, X):
        distances = ((X[:, None, :] - self.means_[None]) ** 2).sum(axis=2)
        return self.classes_[distances.argmin(axis=1)]

"""A classifier that fails on demand, to test what a run does when a step breaks."""

from __future__ import annotations

import os

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

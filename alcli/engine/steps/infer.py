"""INFER: metrics on the test set, and the selection model's output on the unlabeled pool for
the next SELECT."""

from __future__ import annotations

from alcli.engine.state import RunState
from alcli.metrics import evaluate
from alcli.models import apply_chunked, predict_proba_chunked


def score_on_test(state: RunState) -> dict[str, float]:
    """The evaluated model's metrics on the test set."""
    data = state.data
    return evaluate(state.model, data.X_test, state.y_test, state.config.metrics, data.classes)


def infer(state: RunState) -> int:
    """Predict the unlabeled pool for the next SELECT; returns how many were predicted.

    Probabilities when the selection model has them, else decision values for strategies
    that accept them (the config check guarantees one of the two).
    """
    state.candidates = state.pool.unlabeled_indices()
    state.proba = state.decision = None
    if not state.strategy.needs_proba:
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

"""TRAIN: fit the evaluated model (and the selection model, when the strategy has its own) on
every label so far."""

from __future__ import annotations

from typing import Any

from alcli.engine.state import RunState
from alcli.engine.warned import estimator_name
from alcli.models import ModelConfig, fit_model
from alcli.seeding import MODEL, SELECTION_MODEL


def train(state: RunState, loop: int) -> None:
    """Fit the models on the labels up to and with loop ``loop``; their warnings are counted
    per model (a ConvergenceWarning's fix names the model's own section)."""
    with state.caught.step("train", key="model") as source:
        state.model = _fit(state, state.config.model, state.model, loop, MODEL)
        source.name = estimator_name(state.model)
    if state.config.strategy.model is None:
        state.selection_model = state.model
    else:
        with state.caught.step("train", key="strategy.model") as source:
            state.selection_model = _fit(
                state, state.config.strategy.model, state.selection_model, loop, SELECTION_MODEL
            )
            source.name = estimator_name(state.selection_model)


def _fit(state: RunState, cfg: ModelConfig, previous: Any, loop: int, purpose: str) -> Any:
    order, codes = state.pool.training_set(up_to_loop=loop, order=state.train_order)
    return fit_model(
        cfg,
        previous,
        state.pool.features[order],
        state.data.decode(codes),
        state.config.seed,
        loop,
        purpose=purpose,
    )

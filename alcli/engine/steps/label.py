"""LABEL: ask the labeler for what the batch has not answered yet; a batch left with people
is saved so that the run can wait for them."""

from __future__ import annotations

import numpy as np

from alcli.atomic import uninterrupted
from alcli.classes import UNANSWERED, codes_of
from alcli.engine.state import Batch, RunState, plain_list
from alcli.labelers import Answers, LabelRequest, chain_has
from alcli.seeding import LABEL, rng_for


def label(state: RunState, loop: int, batch: Batch) -> Answers:
    """The batch's answers, with the labeler's filled in where there were none."""
    if loop == 0 and state.init.uses_targets:
        # The initial set is the records whose target the data holds: those are the labels.
        answers = batch.answers
        answers.codes[:] = state.data.y[batch.indices]
        answers.labeler[:] = "data"
        return answers
    request = label_request(state, loop, batch.indices, batch.answers.codes)
    if request.open.size == 0:
        return batch.answers
    fresh = state.labeler.label(request)
    return batch.answers.merged(fresh)


def label_request(
    state: RunState, loop: int, indices: np.ndarray, answers: np.ndarray | None = None
) -> LabelRequest:
    predictions = confidence = None
    # The model's guesses are for people to see (to_label.csv, tasks.json, the terminal).
    people_look = chain_has(state.config.labeler, "may_wait")
    if state.model is not None and indices.size and people_look:
        predictions, confidence = _guesses(state, indices)
    return LabelRequest(
        loop=loop,
        indices=indices,
        ids=state.pool.ids[indices],
        classes=state.data.classes,
        answers=np.full(indices.shape[0], UNANSWERED, dtype=np.int64)
        if answers is None
        else answers.copy(),
        predictions=predictions,
        confidence=confidence,
        records=state.records,
        features=state.pool.features,
        pending_dir=state.rundir.pending_path(loop).absolute(),
        rng=rng_for(state.config.seed, LABEL, loop),
    )


def _guesses(state: RunState, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """The evaluated model's predicted class code and its probability for ``indices``."""
    model, classes = state.model, state.data.classes
    X = state.pool.features[indices]
    if hasattr(model, "predict_proba"):
        proba = model.predict_proba(X)
        best = proba.argmax(axis=1)
        codes = codes_of(classes, np.asarray(model.classes_)[best])
        return codes.astype(np.int64), proba[np.arange(best.shape[0]), best]
    predicted = np.asarray(model.predict(X))
    return codes_of(classes, predicted), None


def save_pending(state: RunState, loop: int, batch: Batch, answers: Answers) -> None:
    """Save the batch of ``loop``, its answers so far and the strategy's state (what resume
    needs to go on from LABEL)."""
    arrays = {
        **batch.arrays(answers),
        **state.carried.arrays(),
        "pool.skipped": state.pool.state().get("skipped", np.empty(0, dtype=np.int64)),
        **{f"strategy.{k}": v for k, v in state.strategy.state().items()},
    }
    with uninterrupted():
        # run.json first: a batch never holds a class code the run does not know.
        if state.new_classes:
            state.rundir.update_meta(new_classes=plain_list(state.new_classes))
        state.rundir.write_pending(loop, arrays)

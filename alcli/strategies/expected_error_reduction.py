"""Expected error reduction: label the record whose label would most lower the expected error."""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, PositiveInt

from alcli.strategies import uncertainty
from alcli.strategies.base import ScoreStrategy, SelectionContext, UnsupportedInput

# Refits handed to Learner.fit_many at once: enough to keep its threads busy, few enough that
# the training-set copies they hold stay small (each is n_labeled + 1 rows).
_FITS_PER_BATCH = 32


class ExpectedErrorReductionParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    candidates: PositiveInt = Field(
        200,
        description="Unlabeled records scored per loop, drawn at random each loop; the others "
        "are picked only when a loop asks for more records than this.",
    )
    estimate_on: PositiveInt = Field(
        500,
        description="Unlabeled records, drawn at random each loop, on which each refit model's "
        "expected error is estimated.",
    )
    loss: Literal["zero_one", "log"] = Field(
        "log",
        description="log: expected log loss (the entropy of the refit model's predictions); "
        "zero_one: expected 0/1 loss (1 - its top probability).",
    )


class ExpectedErrorReduction(ScoreStrategy):
    """Score = minus the expected error of the model retrained with the record's label.

    For each of ``candidates`` unlabeled records x drawn at random (the others score -inf and
    are taken, at random, only when a loop asks for more records than that), and for each
    class y the current model gives x a non-zero probability, a fresh copy of the selection
    model is fit on the labeled set plus (x, y). Its error on ``estimate_on`` unlabeled
    records U drawn at random is estimated with its own predictions, as the true labels are
    unknown: mean over u in U of the entropy of p'(. | u) (``loss: log``) or of
    1 - max_c p'(c | u) (``loss: zero_one``). The score is
    -sum_y p(y | x) * error(model fit with (x, y)), so higher = a lower expected error.
    ``candidates`` and ``estimate_on`` are drawn with the loop's generator; the same U serves
    every candidate so that their scores compare.

    Cost per loop: up to ``candidates`` x n_classes fits of the selection model on
    n_labeled + 1 records (2,000 with the defaults and 10 classes), in parallel threads
    through the Learner (``model.n_jobs``), plus as many predictions on ``estimate_on``
    records; memory O(32 x n_labeled x n_features + estimate_on x n_classes). By far the
    slowest strategy: lower ``candidates`` and ``estimate_on`` to trade accuracy for time.
    Needs ``predict_proba`` (the copies' predictions are probabilities).

    References: Roy & McCallum, "Toward optimal active learning through sampling estimation
    of error reduction", ICML 2001.
    """

    name = "expected_error_reduction"
    description = "Minus the expected error after retraining with each candidate's label (slow)."
    needs_proba = True
    Params = ExpectedErrorReductionParams

    def score(self, ctx: SelectionContext) -> np.ndarray:
        params, learner, rng = self.params, ctx.learner, ctx.rng
        n_candidates = ctx.candidates.shape[0]
        scored = rng.choice(n_candidates, min(params.candidates, n_candidates), replace=False)
        estimate_on = np.sort(
            ctx.candidates[
                rng.choice(n_candidates, min(params.estimate_on, n_candidates), replace=False)
            ]
        )
        scores = np.full(n_candidates, -np.inf)
        if ctx.labeled.shape[0] == 0:
            # Each refit would see one record, (x, y): a constant model predicting y, whose
            # expected error is 0 under either loss. Every candidate ties, exactly.
            scores[scored] = 0.0
            return scores
        if learner is None:
            raise UnsupportedInput(
                f"strategy '{self.name}' refits the selection model with each candidate's "
                "possible labels, so it needs a Learner (ctx.learner) with the labeled set "
                "(ctx.labeled, ctx.labels); the engine gives both in every loop from 1 on"
            )
        if ctx.proba is None:
            raise UnsupportedInput(
                f"strategy '{self.name}' weighs each possible label by the model's "
                "predict_proba, and this model gave none"
            )
        codes = ctx.column_codes(ctx.proba.shape[1])
        labeled = np.asarray(ctx.labeled, dtype=np.int64)
        labels = np.asarray(ctx.labels, dtype=np.int64)
        loss = uncertainty.entropy if params.loss == "log" else uncertainty.least_confidence

        risk = np.zeros(n_candidates)
        jobs: list[tuple[object, np.ndarray]] = []
        owners: list[tuple[int, float]] = []  # (candidate position, p(y | x)) of each job

        def run() -> None:
            # One seed for every refit: scores then differ by the added label, not by seed noise.
            models = learner.fit_many(jobs, members=[0] * len(jobs))
            for model, (position, weight) in zip(models, owners, strict=True):
                proba = learner.proba(model, ctx.features, estimate_on)
                risk[position] += weight * loss(proba).mean()
            jobs.clear()
            owners.clear()

        for position in scored.tolist():
            X = ctx.features[np.append(labeled, ctx.candidates[position])]
            for column in np.flatnonzero(ctx.proba[position] > 0).tolist():
                jobs.append((X, np.append(labels, codes[column])))
                owners.append((position, float(ctx.proba[position, column])))
            if len(jobs) >= _FITS_PER_BATCH:
                run()
        if jobs:
            run()
        scores[scored] = -risk[scored]
        return scores

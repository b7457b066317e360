"""Least confidence: label the records whose most likely class is least likely."""

from __future__ import annotations

import numpy as np

from alcli.strategies import uncertainty
from alcli.strategies.base import ScoreStrategy, SelectionContext


class LeastConfidence(ScoreStrategy):
    """Score = 1 - max_c p(c | x); without probabilities, minus the top decision value
    (minus the distance to the boundary for two classes).

    References: Lewis & Gale, "A sequential algorithm for training text classifiers", SIGIR 1994.
    """

    name = "least_confidence"
    description = "1 - the top class probability."
    needs_proba = True
    accepts_decision = True

    def score(self, ctx: SelectionContext) -> np.ndarray:
        if ctx.proba is None and ctx.decision is not None:
            return uncertainty.least_confidence_of_decision(ctx.decision)
        return uncertainty.least_confidence(ctx.proba)

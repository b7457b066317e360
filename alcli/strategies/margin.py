"""Margin sampling: label the records whose two most likely classes are closest."""

from __future__ import annotations

import numpy as np

from alcli.strategies import uncertainty
from alcli.strategies.base import ScoreStrategy, SelectionContext


class MarginSampling(ScoreStrategy):
    """Score = 1 - (p(first | x) - p(second | x)); without probabilities, minus the gap between
    the two highest decision values (minus the distance to the boundary for two classes).

    References: Scheffer, Decomain & Wrobel, "Active hidden Markov models for information
    extraction", IDA 2001.
    """

    name = "margin"
    description = "1 - the gap between the two top class probabilities."
    needs_proba = True
    accepts_decision = True

    def score(self, ctx: SelectionContext) -> np.ndarray:
        if ctx.proba is None and ctx.decision is not None:
            return uncertainty.margin_of_decision(ctx.decision)
        return uncertainty.margin(ctx.proba)

"""Margin sampling: label the records whose two most likely classes are closest."""

from __future__ import annotations

import numpy as np

from alcli.strategies import uncertainty
from alcli.strategies.base import ScoreStrategy, SelectionContext


class MarginSampling(ScoreStrategy):
    """Score = 1 - (p(first | x) - p(second | x)).

    References: Scheffer, Decomain & Wrobel, "Active hidden Markov models for information
    extraction", IDA 2001.
    """

    name = "margin"
    description = "1 - the gap between the two top class probabilities."
    needs_proba = True

    def score(self, ctx: SelectionContext) -> np.ndarray:
        return uncertainty.margin(ctx.proba)

"""Entropy sampling: label the records whose predicted distribution is most spread out."""

from __future__ import annotations

import numpy as np

from alcli.strategies import uncertainty
from alcli.strategies.base import ScoreStrategy, SelectionContext


class EntropySampling(ScoreStrategy):
    """Score = -sum_c p(c | x) log p(c | x).

    References: Settles & Craven, "An analysis of active learning strategies for sequence
    labeling tasks", EMNLP 2008; Shannon 1948.
    """

    name = "entropy"
    description = "Shannon entropy of the predicted class distribution."
    needs_proba = True

    def score(self, ctx: SelectionContext) -> np.ndarray:
        return uncertainty.entropy(ctx.proba)

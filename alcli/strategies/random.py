"""Random sampling: the baseline every other strategy has to beat."""

from __future__ import annotations

import numpy as np

from alcli.strategies.base import ScoreStrategy, SelectionContext


class RandomSampling(ScoreStrategy):
    """Every unlabeled record is equally likely to be picked.

    References: Lewis & Gale, "A sequential algorithm for training text classifiers", SIGIR 1994
    (the random baseline of pool-based active learning).
    """

    name = "random"
    description = "Uniformly random records: the baseline."

    def score(self, ctx: SelectionContext) -> np.ndarray:
        return ctx.rng.random(ctx.candidates.shape[0])

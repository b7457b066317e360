"""A user's own strategy, named in a config by its import path."""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from alcli.strategies import ScoreStrategy, SelectionContext


class FarthestFromOrigin(ScoreStrategy):
    """Score = the record's distance from the origin, raised to ``power``.

    References: none; a test double.
    """

    name = "farthest_from_origin"
    description = "Records far from the origin first."

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid", frozen=True)
        power: float = Field(1.0, gt=0, description="Exponent applied to the distance.")

    def score(self, ctx: SelectionContext) -> np.ndarray:
        rows = ctx.features[ctx.candidates]
        return np.linalg.norm(rows, axis=1) ** self.params.power

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


class TooMany(ScoreStrategy):
    """Returns more records than the loop asks for: the engine must refuse it.

    References: none; a test double.
    """

    name = "too_many"
    description = "Breaks the loop size."

    def score(self, ctx: SelectionContext) -> np.ndarray:
        return np.zeros(ctx.candidates.shape[0])

    def select(self, ctx: SelectionContext, n: int):
        from alcli.strategies import Selection

        picked = ctx.candidates[: n + 5]
        return Selection(picked, np.zeros(picked.shape[0]))


class FailsToBuild(ScoreStrategy):
    """A constructor that raises.

    References: none; a test double.
    """

    name = "fails_to_build"
    description = "Cannot be built."

    def __init__(self, **params):
        raise RuntimeError("no GPU found")

    def score(self, ctx: SelectionContext) -> np.ndarray:
        return np.zeros(ctx.candidates.shape[0])


class Nameless(ScoreStrategy):
    """No name or description.

    References: none; a test double.
    """

    def score(self, ctx: SelectionContext) -> np.ndarray:
        return np.zeros(ctx.candidates.shape[0])


class PlainParams(ScoreStrategy):
    """Params that are not a pydantic model.

    References: none; a test double.
    """

    name = "plain_params"
    description = "Params is a plain class."

    class Params:
        pass

    def score(self, ctx: SelectionContext) -> np.ndarray:
        return np.zeros(ctx.candidates.shape[0])

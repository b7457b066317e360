"""A mixture of strategies: every batch split between them by fixed shares."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from alcli.strategies.base import (
    CompositeStrategy,
    Selection,
    SelectionContext,
    Strategy,
    credited,
    part_labels,
    select_top,
)
from alcli.strategies.spec import StrategySpec

SHARE_TOLERANCE = 1e-6


class MixturePart(StrategySpec):
    """One part of a mixture: a strategy (``name`` plus its own keys) and its share."""

    share: float = Field(
        gt=0,
        le=1,
        description="The part's share of each batch, in (0, 1]; the shares sum to 1.",
    )


def _default_parts() -> list[MixturePart]:
    return [MixturePart(name="margin", share=0.8), MixturePart(name="random", share=0.2)]


class MixtureParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    parts: list[MixturePart] = Field(
        default_factory=_default_parts,
        min_length=1,
        description="The strategies and their shares of each batch, e.g. [{name: margin, "
        "share: 0.8}, {name: random, share: 0.2}]; the shares sum to 1.",
    )

    @field_validator("parts")
    @classmethod
    def _shares_sum_to_one(cls, parts: list[MixturePart]) -> list[MixturePart]:
        total = sum(part.share for part in parts)
        if abs(total - 1.0) > SHARE_TOLERANCE:
            shares = " + ".join(f"{part.share:g} ({part.name})" for part in parts)
            raise ValueError(
                f"the shares must sum to 1, and {shares} = {total:g}; adjust the shares"
            )
        return parts


class Mixture(CompositeStrategy):
    """Splits every batch between strategies by fixed shares: with
    ``[{name: margin, share: 0.8}, {name: random, share: 0.2}]`` and a batch of 20, margin
    picks 16 records and random 4 (random's share keeps exploring where margin exploits).

    The part sizes are ``share * n`` rounded by largest remainders (deterministic; ties go to
    the earlier part), ``n`` capped at the number of candidates. Parts pick in order, each
    from the candidates the earlier parts left (with the matching rows of the probabilities
    or decision values), so no record is picked twice. A part that returns fewer than its
    size passes the rest to the next part; what the last part leaves short is a uniformly
    random fill (``picked_by`` random), so the batch is always ``min(n, candidates)`` records.
    ``picked_by`` names the part of each record. A part measures distances to the labeled
    set only, not to the records earlier parts picked in the same loop (they have no labels
    yet), so a diversity part can land next to an uncertainty part's picks.

    Cost per loop: the sum of the parts' costs on the shrinking candidate sets, plus one copy
    of the remaining candidates' probability rows per later part, O(n_candidates x n_classes).

    References: Donmez, Carbonell & Bennett, "Dual strategy active learning", ECML 2007.
    """

    name = "mixture"
    description = (
        "Splits each batch between strategies by fixed shares (default margin 80%, random 20%)."
    )
    Params = MixtureParams

    def __init__(self, **params: Any):
        super().__init__(**params)
        specs = self.params.parts
        labels = part_labels([spec.name for spec in specs])
        self.parts = [(label, spec.build()) for label, spec in zip(labels, specs, strict=True)]

    def sizes(self, n: int) -> np.ndarray:
        """Each part's number of records in a batch of ``n``, shape (n_parts,), summing to n."""
        return largest_remainder([part.share for part in self.params.parts], n)

    def select(self, ctx: SelectionContext, n: int) -> Selection:
        total = min(max(int(n), 0), ctx.candidates.shape[0])
        taken = np.zeros(ctx.candidates.shape[0], dtype=bool)
        picks: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        short = 0
        for (label, strategy), size in zip(self.parts, self.sizes(total), strict=True):
            short += int(size) - self._ask(ctx, taken, label, strategy, int(size) + short, picks)
        # What the last part left short is filled at random: asking a part twice in a loop
        # would make one that learns (a bandit) count the loop twice.
        if short:
            free = np.flatnonzero(~taken)
            fill = select_top(ctx.rng.random(free.shape[0]), ctx.candidates[free], short, ctx.rng)
            picks.append((fill.indices, fill.scores, np.full(short, "random", dtype=object)))
        if not picks:
            return Selection(np.empty(0, dtype=np.int64), np.empty(0), np.empty(0, dtype=object))
        indices, scores, picked_by = (np.concatenate(column) for column in zip(*picks, strict=True))
        return Selection(indices.astype(np.int64), scores.astype(np.float64), picked_by)

    @staticmethod
    def _ask(
        ctx: SelectionContext,
        taken: np.ndarray,
        label: str,
        strategy: Strategy,
        want: int,
        picks: list,
    ) -> int:
        """Let ``strategy`` pick up to ``want`` of the candidates not ``taken``; marks and
        appends what it picked and returns how many."""
        free = np.flatnonzero(~taken)
        want = min(want, free.shape[0])
        if want <= 0:
            return 0
        sub = ctx
        if free.shape[0] < taken.shape[0]:
            sub = replace(
                ctx,
                candidates=ctx.candidates[free],
                proba=None if ctx.proba is None else ctx.proba[free],
                decision=None if ctx.decision is None else ctx.decision[free],
            )
        selection = strategy.select(sub, want)
        # Positions among the candidates (ascending); a user's own strategy that returns a
        # record twice, or one it was not offered, cannot make the batch repeat a record.
        pos = np.minimum(np.searchsorted(ctx.candidates, selection.indices), taken.shape[0] - 1)
        ok = (ctx.candidates[pos] == selection.indices) & ~taken[pos]
        first = np.zeros(pos.shape[0], dtype=bool)
        first[np.unique(pos, return_index=True)[1]] = True
        keep = np.flatnonzero(ok & first)[:want]
        taken[pos[keep]] = True
        picked_by = credited(label, selection).picked_by[keep]
        picks.append((selection.indices[keep], np.asarray(selection.scores)[keep], picked_by))
        return int(keep.shape[0])


def largest_remainder(shares: list[float], n: int) -> np.ndarray:
    """Integer sizes proportional to ``shares`` that sum to ``n``: the floors of the quotas,
    plus one for the largest remainders (the earlier part first on a tie).

    Parameters
    ----------
    shares : list of float, positive
    n : int, >= 0

    Returns
    -------
    ndarray of shape (len(shares),) of int64
    """
    weights = np.asarray(shares, dtype=np.float64)
    quotas = weights / weights.sum() * n
    sizes = np.floor(quotas).astype(np.int64)
    left = max(n - int(sizes.sum()), 0)
    sizes[np.argsort(-(quotas - sizes), kind="stable")[:left]] += 1
    return sizes

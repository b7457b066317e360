"""Strategy phases: one strategy for the first loops, another after (a strategy schedule)."""

from __future__ import annotations

from alcli.strategies.base import (
    CompositeStrategy,
    Selection,
    SelectionContext,
    Strategy,
    credited,
)


class Phases(CompositeStrategy):
    """Runs each phase's strategy for its ``loops``, then the next; the last runs to the end.

    Set in the config as ``strategy: {phases: [{loops: 3, name: kcenter}, {name: margin}]}``:
    loops 1-3 pick by kcenter, later loops by margin (loop 0 is ``init``). Every phase sees
    every loop (:meth:`Strategy.observe`), so a history strategy that starts late already
    knows the earlier loops.

    References: Hacohen, Dekel & Weinshall, "Active learning on a budget: opposite strategies
    suit high and low budgets", ICML 2022 (diverse records first, uncertain ones later).
    """

    name = "phases"
    description = "Switches strategies by loop: each phase runs for its loops, the last to the end."

    def __init__(self, phases: list[tuple[int | None, str, Strategy]]):
        # Phases are told apart by their loops, so a strategy used twice keeps its own name.
        self.parts = [(name, strategy) for _, name, strategy in phases]
        self.lengths = [loops for loops, _, _ in phases]

    def active(self, loop: int) -> int:
        """Which phase selects in ``loop`` (loops count from 1; loop 0 is the initial set)."""
        last_loop_of_phase = 0
        for k, length in enumerate(self.lengths[:-1]):
            last_loop_of_phase += length
            if loop <= last_loop_of_phase:
                return k
        return len(self.parts) - 1

    def select(self, ctx: SelectionContext, n: int) -> Selection:
        label, strategy = self.parts[self.active(ctx.loop)]
        return credited(label, strategy.select(ctx, n))

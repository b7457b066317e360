"""A strategy as the config names it: a registered name or an import path, plus its own keys.

Strategies made of other strategies (``bandit``, ``mixture``, phases) hold lists of these.
"""

from __future__ import annotations

from pydantic import Field

from alcli.registry import ComponentSpec, Registry


class StrategySpec(ComponentSpec):
    """``name`` picks a strategy; the other keys are that strategy's parameters."""

    name: str = Field(
        "margin",
        description="A registered strategy name (see `alcli strategies`), or the import path "
        "of your own Strategy subclass (mypkg.strategies:MyStrategy).",
    )

    @classmethod
    def registry(cls) -> Registry:
        # Composite strategies (bandit, mixture) hold specs, and the registry imports them.
        from alcli.strategies import STRATEGIES

        return STRATEGIES

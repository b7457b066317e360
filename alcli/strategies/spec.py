"""A strategy as the config names it: a registered name or an import path, plus its own keys.

Strategies made of other strategies (``bandit``, ``mixture``, phases) hold lists of these.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from pydantic import Field, ValidationInfo, model_validator

from alcli.registry import ComponentSpec, Registry

#: The validation context (the config file's folder, ...) of the strategy section being
#: validated. The registry validates a strategy's own keys without it, and those that hold
#: model configs (qbc's ``models``) need it: a member's factory may live beside the config.
STRATEGY_CONTEXT: ContextVar[dict[str, Any] | None] = ContextVar("strategy_context", default=None)


class StrategySpec(ComponentSpec):
    """``name`` picks a strategy; the other keys are that strategy's parameters."""

    name: str = Field(
        "margin",
        description="A registered strategy name (see `alcli strategies`), or the import path "
        "of your own Strategy subclass (mypkg.strategies:MyStrategy).",
    )

    @model_validator(mode="wrap")
    @classmethod
    def _in_context(cls, value: Any, handler: Any, info: ValidationInfo) -> Any:
        if info.context is None:  # a nested spec: its parent's context is already set
            return handler(value)
        token = STRATEGY_CONTEXT.set(info.context)
        try:
            return handler(value)
        finally:
            STRATEGY_CONTEXT.reset(token)

    @classmethod
    def registry(cls) -> Registry:
        # Composite strategies (bandit, mixture) hold specs, and the registry imports them.
        from alcli.strategies import STRATEGIES

        return STRATEGIES

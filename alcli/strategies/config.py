"""The ``strategy`` section: one strategy with its parameters, or phases of strategies by
loop, and an optional selection model of its own."""

from __future__ import annotations

from typing import Any

from pydantic import Field, PositiveInt, field_validator, model_validator
from pydantic_core import PydanticCustomError

from alcli.models import ModelConfig
from alcli.strategies.base import Strategy
from alcli.strategies.phases import Phases
from alcli.strategies.spec import StrategySpec


class PhaseConfig(StrategySpec):
    """One phase of a strategy schedule: a strategy and how many loops it runs."""

    loops: PositiveInt | None = Field(
        None, description="Loops this phase runs (every phase but the last needs it)."
    )


PHASES = "phases"


class StrategyConfig(StrategySpec):
    """``name`` picks a strategy and the other keys are its parameters; or ``phases`` lists
    strategies that take turns by loop."""

    model: ModelConfig | None = Field(
        None,
        description="A separate selection model the strategy scores with (default: the "
        "evaluated model), e.g. a fast linear model while a forest is evaluated.",
    )
    phases: list[PhaseConfig] | None = Field(
        None,
        min_length=1,
        description="Strategies by loop: [{loops: 3, name: kcenter}, {name: margin}] runs "
        "kcenter in loops 1-3, then margin.",
    )

    @model_validator(mode="before")
    @classmethod
    def _name_phases(cls, raw: Any) -> Any:
        # `phases` stands in for a name; the frozen config records it as `name: phases`.
        if isinstance(raw, dict) and raw.get("phases") is not None and "name" not in raw:
            return {**raw, "name": PHASES}
        return raw

    @field_validator("name")
    @classmethod
    def _known(cls, value: str) -> str:
        return value if value == PHASES else cls.check_name(value)

    @model_validator(mode="after")
    def _params_fit(self) -> StrategyConfig:
        if self.name != PHASES:
            if self.phases is not None:
                raise PydanticCustomError(
                    "name_and_phases",
                    "strategy.phases: give either name (one strategy) or phases, not both (to "
                    "replace phases from the command line, add --set strategy.phases=null)",
                )
            return self.check_params()
        if self.phases is None:
            raise PydanticCustomError(
                "phases_missing",
                "strategy.phases: name: phases needs a phases list, e.g. "
                "[{loops: 3, name: kcenter}, {name: margin}]",
            )
        if self.params:
            raise PydanticCustomError(
                "phases_params",
                "strategy.{key}: with phases, a strategy's keys go inside its phase",
                {"key": sorted(self.params)[0]},
            )
        *leading, last = self.phases
        for k, phase in enumerate(leading):
            if phase.loops is None:
                raise PydanticCustomError(
                    "phase_loops",
                    "strategy.phases: phase {k} ({name}) needs loops: how many loops it runs "
                    "before the next phase",
                    {"k": k + 1, "name": phase.name},
                )
        if last.loops is not None:
            raise PydanticCustomError(
                "phase_loops",
                "strategy.phases: the last phase ({name}) runs until the run stops; remove its "
                "loops",
                {"name": last.name},
            )
        return self

    def summary(self) -> str:
        """One line for people: ``kcenter for 3 loops, then margin (scored by GaussianNB)``."""
        if self.name == PHASES:
            text = ", then ".join(
                f"{p.name} for {p.loops} loops" if p.loops else p.name for p in self.phases
            )
        else:
            text = self.name
        if self.model is not None:
            text += f" (scored by {self.model.summary()})"
        return text

    def build(self) -> Strategy:
        if self.name == PHASES:
            return Phases([(p.loops, p.name, p.build()) for p in self.phases])
        return StrategySpec.build(self)

"""A strategy as the config names it: a registered name or an import path, plus its own keys.

Strategies made of other strategies (``bandit``, ``mixture``, phases) hold lists of these.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from alcli.strategies.base import Strategy


class StrategySpec(BaseModel):
    """``name`` picks a strategy; the other keys are that strategy's parameters."""

    model_config = ConfigDict(extra="allow", frozen=True)
    name: str = Field(
        "margin",
        description="A registered strategy name (see `alcli strategies`), or the import path "
        "of your own Strategy subclass (mypkg.strategies:MyStrategy).",
    )

    @field_validator("name")
    @classmethod
    def _known(cls, value: str) -> str:
        return check_name(value)

    @model_validator(mode="after")
    def _params_fit(self) -> StrategySpec:
        return check_params(self)

    @property
    def params(self) -> dict[str, Any]:
        """The strategy's own keys (everything but ``name`` and the spec's declared fields)."""
        return dict(self.model_extra or {})

    def build(self) -> Strategy:
        """A new strategy instance with these parameters."""
        return _resolve(self.name)(**self.params)


def check_name(name: str) -> str:
    """``name`` if it names a strategy; else a validation error listing the choices."""
    try:
        _resolve(name)
    except LookupError as exc:
        raise PydanticCustomError("unknown_strategy", "{reason}", {"reason": str(exc)}) from None
    return name


def check_params(spec: StrategySpec) -> StrategySpec:
    """``spec`` if its extra keys are valid parameters of its strategy."""
    params_model = _resolve(spec.name).Params
    try:
        validated = params_model.model_validate(spec.params)
    except ValidationError as exc:
        problems = "; ".join(_describe_param_error(err, params_model) for err in exc.errors())
        raise PydanticCustomError(
            "strategy_params",
            "strategy '{name}': {problems}",
            {"name": spec.name, "problems": problems},
        ) from None
    # Every parameter, defaults included, so the frozen config records what the run uses
    # (a later version's different default cannot change a resumed run).
    object.__setattr__(spec, "__pydantic_extra__", validated.model_dump(mode="python"))
    return spec


def _resolve(name: str) -> type[Strategy]:
    from alcli.strategies import resolve_strategy  # the registry imports this module

    return resolve_strategy(name)


def _describe_param_error(err: dict, params_model: type[BaseModel]) -> str:
    key = ".".join(str(part) for part in err["loc"]) or "(parameters)"
    message = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        valid = sorted(params_model.model_fields) if len(err["loc"]) == 1 else []
        listing = f"; valid keys here: {', '.join(valid)}" if valid else ""
        if not params_model.model_fields and len(err["loc"]) == 1:
            listing = "; this strategy takes no parameters"
        return f"{key}: unknown key{listing}"
    if err["type"] == "model_type":
        return f"{key}: must be a mapping like {{name: margin}}; got {err.get('input')!r}"
    if err["type"] == "missing":
        return f"{key}: required key is missing"
    if (
        "input" in err
        and not isinstance(err["input"], dict | list)
        and err["type"]
        not in (
            "unknown_strategy",
            "strategy_params",
        )
    ):
        return f"{key}: {message}; got {err['input']!r}"
    return f"{key}: {message}"

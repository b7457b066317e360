"""The experiment config: one class that assembles every component's section.

Each section is defined beside the component that reads it (``DataConfig`` in ``data/``,
``ModelConfig`` in ``models/``, a labeler's config in its module, ...); this class only puts
them together and checks what spans several sections.
"""

from __future__ import annotations

from typing import Any

from pydantic import (
    Field,
    NonNegativeInt,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)
from pydantic_core import PydanticCustomError

from alcli.data import DataConfig
from alcli.initialization import DEFAULT_INIT, InitConfig
from alcli.labelers import DEFAULT_LABELER, LabelerConfig, max_price
from alcli.metrics import response_methods, scorer_names
from alcli.models import ModelConfig
from alcli.rundir import OutputConfig
from alcli.schedules import DEFAULT_SCHEDULE, LoopSizeConfig
from alcli.schema import Section, did_you_mean
from alcli.stopping import PROBA_SIGNALS, SIGNALS, TEST_SET, StopConfig
from alcli.strategies.config import StrategyConfig
from alcli.tracking import TrackingConfig


class ExperimentConfig(Section):
    name: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
        max_length=100,  # it names a folder, with a timestamp after it
        description="Names the run directory (letters, digits, '.', '_', '-').",
    )
    seed: NonNegativeInt = Field(0, strict=True, description="Every random draw derives from it.")
    data: DataConfig = Field(description="The records: a bundled dataset or a file.")
    model: ModelConfig = Field(default_factory=ModelConfig, description="The classifier.")
    init: InitConfig = Field(default_factory=DEFAULT_INIT, description="Loop 0's selection.")
    strategy: StrategyConfig = Field(
        default_factory=StrategyConfig, description="The querying strategy of loops 1, 2, ..."
    )
    loop_size: LoopSizeConfig = Field(
        default_factory=DEFAULT_SCHEDULE, description="How many records each loop labels."
    )
    labeler: LabelerConfig = Field(
        default_factory=DEFAULT_LABELER, description="Who answers the LABEL step."
    )
    stop: StopConfig = Field(default_factory=StopConfig, description="When the run ends.")
    metrics: list[str] = Field(
        default_factory=lambda: ["accuracy", "f1_macro"],
        min_length=1,
        description="scikit-learn scorer names, evaluated on the test set each loop.",
    )
    output: OutputConfig = Field(
        default_factory=OutputConfig, description="Where runs go and what they keep."
    )
    tracking: TrackingConfig | None = Field(  # type: ignore[valid-type]
        None,
        description="Services the run is tracked in besides its run directory (mlflow: ...); "
        "they never change what the run does.",
    )

    @model_serializer(mode="wrap")
    def _no_empty_tracking(self, serialize: Any) -> dict[str, Any]:
        # A config without tracking freezes as it did before the section existed (same
        # config.yaml, same hash).
        data = serialize(self)
        if isinstance(data, dict) and data.get("tracking") is None:
            data.pop("tracking", None)
        return data

    @field_validator("metrics")
    @classmethod
    def _known_metrics(cls, value: list[str]) -> list[str]:
        known = scorer_names()
        for name in value:
            if name not in known:
                raise PydanticCustomError(
                    "unknown_metric",
                    "Unknown metric '{name}'{hint}. Use scikit-learn scorer "
                    "names, e.g. accuracy, balanced_accuracy, f1_macro, roc_auc_ovr, neg_log_loss",
                    {"name": name, "hint": did_you_mean(name, known)},
                )
        if len(set(value)) != len(value):
            raise PydanticCustomError("duplicate_metric", "a metric is listed twice")
        return value

    def _check_ends_without_a_test_set(self) -> None:
        """Without a test set nothing watches test metrics, and something else must end the
        run: a budget, an explicit max_loops or a label-free stop criterion."""
        if self.stop.target is not None:
            raise PydanticCustomError(
                "target_no_test",
                "stop.target: it watches a test metric, and data.test_size: 0 means no test "
                "set; remove stop.target, or give a test set (data.test_size or data.test_path)",
            )
        for k, spec in enumerate(self.stop.when):
            if TEST_SET in spec.component().needs:
                raise PydanticCustomError(
                    "criterion_no_test",
                    "stop.when.{k}: {name} watches a test metric, and data.test_size: 0 means no "
                    "test set; use a criterion that needs no labels (e.g. "
                    "stabilizing_predictions), or give a test set",
                    {"k": k, "name": spec.name},
                )
        label_free = any(spec.component().needs & SIGNALS.keys() for spec in self.stop.when)
        limited = "max_loops" in self.stop.model_fields_set or self.stop.budget is not None
        if not (label_free or limited or self.stop.budget_cost is not None):
            raise PydanticCustomError(
                "no_end",
                "stop: without a test set (data.test_size: 0) say how the run ends: a stop "
                "criterion that needs no labels (stop.when: [{{name: stabilizing_predictions}}]), "
                "a budget (stop.budget, stop.budget_cost), or stop.max_loops",
            )

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> ExperimentConfig:
        if self.stop.target is not None and self.stop.target.metric not in self.metrics:
            raise PydanticCustomError(
                "target_metric",
                "stop.target.metric '{metric}' is not in metrics ({listed}); add it to metrics",
                {"metric": self.stop.target.metric, "listed": ", ".join(self.metrics)},
            )
        if not self.data.has_test_set:
            self._check_ends_without_a_test_set()
        init_size = getattr(self.init, "size", None)
        if self.stop.budget is not None and init_size is not None and self.stop.budget < init_size:
            raise PydanticCustomError(
                "budget",
                "stop.budget: {budget} is below init.size ({size}); the initial set "
                "alone would exceed it; raise the budget or lower init.size",
                {"budget": self.stop.budget, "size": init_size},
            )
        if self.stop.budget_cost is not None and init_size is not None:
            worst = init_size * max_price(self.labeler)
            if worst > self.stop.budget_cost:
                raise PydanticCustomError(
                    "budget_cost",
                    "stop.budget_cost: {budget} is below what the initial set can cost "
                    "({size} labels at up to {price} each = {worst}); raise the budget or "
                    "lower init.size",
                    {
                        "budget": self.stop.budget_cost,
                        "size": init_size,
                        "price": max_price(self.labeler),
                        "worst": worst,
                    },
                )
        if (info.context or {}).get("checked"):
            # A config read back from its own frozen text: the checks below build the model
            # and the strategy, and passed already.
            return self
        estimator = self.model.build()
        for metric in self.metrics:
            methods = response_methods(metric)
            if methods and not any(hasattr(estimator, m) for m in methods):
                raise PydanticCustomError(
                    "metric_method",
                    "metrics: '{metric}' needs {methods}, which {name} does not offer with "
                    "these params; drop the metric or use a model that has it",
                    {
                        "metric": metric,
                        "methods": " or ".join(methods),
                        "name": type(estimator).__name__,
                    },
                )
        selection_estimator = self.strategy.model.build() if self.strategy.model else estimator
        try:
            strategy = self.strategy.build()
        except Exception as exc:  # a user's own strategy whose constructor fails
            raise PydanticCustomError(
                "strategy_build",
                "strategy.name: '{name}' cannot be built with these parameters: {error}",
                {"name": self.strategy.name, "error": f"{type(exc).__name__}: {exc}"},
            ) from None
        for k, spec in enumerate(self.stop.when):
            needs = spec.component().needs
            if needs & PROBA_SIGNALS and not hasattr(selection_estimator, "predict_proba"):
                raise PydanticCustomError(
                    "stop_proba",
                    "stop.when.{k}: {name} watches the model's probabilities, and {model} has "
                    "no predict_proba with these params; use a model that has it (or "
                    "stabilizing_predictions, which needs only predictions)",
                    {"k": k, "name": spec.name, "model": type(selection_estimator).__name__},
                )
            metric = spec.params.get("metric")
            if TEST_SET in needs and metric is not None and metric not in self.metrics:
                raise PydanticCustomError(
                    "stop_metric",
                    "stop.when.{k}: {name} watches '{metric}', which is not in metrics ({listed}); "
                    "add it to metrics",
                    {
                        "k": k,
                        "name": spec.name,
                        "metric": metric,
                        "listed": ", ".join(self.metrics),
                    },
                )
        problem = strategy.check_model(selection_estimator)
        if problem:
            key = "strategy.model" if self.strategy.model else "strategy.name"
            raise PydanticCustomError(
                "strategy_model", "{key}: {problem}", {"key": key, "problem": problem}
            )
        return self

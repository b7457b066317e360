"""The experiment config: pydantic models that mirror the YAML, one class per section.

``load_config`` reads a YAML file, applies ``--set`` overrides, resolves paths against the
config file's folder and validates everything a run needs before anything is written. Every
problem becomes one line of a :class:`~alcli.errors.ConfigError` naming the key (and the line
of the file, when known), what is allowed and what was given.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    Tag,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from alcli.errors import ConfigError
from alcli.imports import import_object
from alcli.strategies import Strategy
from alcli.strategies.phases import Phases
from alcli.strategies.spec import StrategySpec, check_name, check_params

SKLEARN_DATASETS = ("breast_cancer", "digits", "iris", "wine")
DEFAULT_ESTIMATOR = "sklearn.linear_model.LogisticRegression"


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _resolve_path(value: Path | None, info: ValidationInfo) -> Path | None:
    """Paths in a config are relative to the config file's folder."""
    if value is None:
        return None
    base = (info.context or {}).get("base_dir")
    path = Path(value).expanduser()
    if not path.is_absolute() and base is not None:
        path = Path(base) / path
    return path.resolve()


# --- data -----------------------------------------------------------------------------------


class DataConfig(Section):
    source: str | None = Field(
        None,
        description="A bundled dataset: sklearn:iris, sklearn:wine, sklearn:breast_cancer "
        "or sklearn:digits. Give either source or path.",
    )
    path: Path | None = Field(
        None,
        description="A CSV or NPZ file, relative to the config file. Give either source or path.",
    )
    target: str = Field("target", description="CSV: the column holding the class label.")
    id: str | None = Field(
        None,
        description="CSV: the column holding record ids (default: a column named 'id' if there "
        "is one, else row numbers).",
    )
    features: list[str] | None = Field(
        None, min_length=1, description="CSV: the feature columns (default: all but target and id)."
    )
    test_size: float | None = Field(
        None,
        gt=0,
        lt=1,
        description="Share of the labeled records held out as a stratified test set (default "
        "0.25 when there is no test_path).",
    )
    test_path: Path | None = Field(
        None, description="A labeled test file in the same format, instead of test_size."
    )

    _resolve = field_validator("path", "test_path")(_resolve_path)

    @field_validator("source")
    @classmethod
    def _known_source(cls, value: str | None) -> str | None:
        if value is None:
            return value
        name = value.removeprefix("sklearn:")
        if not value.startswith("sklearn:") or name not in SKLEARN_DATASETS:
            allowed = ", ".join(f"sklearn:{n}" for n in SKLEARN_DATASETS)
            raise PydanticCustomError(
                "unknown_dataset",
                "Unknown dataset '{value}'{hint}. Available: {allowed}. For your own data use "
                "data.path (CSV or NPZ).",
                {
                    "value": value,
                    "allowed": allowed,
                    "hint": _did_you_mean(value, [f"sklearn:{n}" for n in SKLEARN_DATASETS]),
                },
            )
        return value

    @model_validator(mode="after")
    def _one_source(self) -> DataConfig:
        if (self.source is None) == (self.path is None):
            raise PydanticCustomError(
                "data_source",
                "data: give exactly one of data.source (a bundled dataset) or data.path "
                "(a CSV or NPZ file)",
            )
        if self.features is not None:
            for role in ("target", "id"):
                column = getattr(self, role)
                if column is not None and column in self.features:
                    raise PydanticCustomError(
                        "data_features",
                        "data.features: it lists '{column}', which is data.{role}; a model trained "
                        "on it would learn the answer. Remove it from data.features",
                        {"column": column, "role": role},
                    )
        if self.test_path is not None and self.test_size is not None:
            raise PydanticCustomError(
                "data_test",
                "data.test_path: give either data.test_size or data.test_path, not both",
            )
        return self

    @property
    def holdout_share(self) -> float:
        """The test share to split off when there is no test file."""
        return 0.25 if self.test_size is None else self.test_size

    @property
    def dataset_name(self) -> str | None:
        return self.source.removeprefix("sklearn:") if self.source else None


# --- model ----------------------------------------------------------------------------------


class ModelConfig(Section):
    estimator: str = Field(
        DEFAULT_ESTIMATOR,
        description="Import path of a scikit-learn compatible classifier.",
    )
    params: dict[str, Any] = Field(
        default_factory=dict, description="Keyword arguments for the estimator."
    )
    retrain: Literal["scratch", "warm_start"] = Field(
        "scratch",
        description="scratch: a fresh model each loop; warm_start: continue from the previous "
        "loop's model (estimators with a warm_start parameter).",
    )
    chunk_size: PositiveInt = Field(
        16384, description="Records predicted per chunk in INFER (bounds memory)."
    )
    n_jobs: int = Field(
        1,
        description="Threads for chunked inference and for fitting a strategy's own models "
        "(committee members): a positive count, or -1 for one per core.",
    )
    blas_threads: int = Field(
        1,
        description="Threads BLAS may use inside fit and predict: 1 (default) avoids the "
        "thread oversubscription that makes small fits many times slower; -1 leaves the "
        "library default.",
    )

    @field_validator("n_jobs", "blas_threads")
    @classmethod
    def _thread_count(cls, value: int) -> int:
        if value == 0 or value < -1:
            raise PydanticCustomError(
                "thread_count",
                "must be a positive number of threads, or -1 (n_jobs: one per core; "
                "blas_threads: the library's own default)",
            )
        return value

    @field_validator("estimator")
    @classmethod
    def _importable(cls, value: str) -> str:
        try:
            estimator_cls = import_object(value)
        except ImportError as exc:
            raise PydanticCustomError(
                "estimator_import",
                "cannot import '{value}': {reason}. Give the import path of a classifier, e.g. "
                "sklearn.linear_model.LogisticRegression",
                {"value": value, "reason": str(exc)},
            ) from None
        if not isinstance(estimator_cls, type) or not hasattr(estimator_cls, "fit"):
            raise PydanticCustomError(
                "estimator_kind",
                "'{value}' is not an estimator class (it has no fit method)",
                {"value": value},
            )
        return value

    @model_validator(mode="after")
    def _params_accepted(self) -> ModelConfig:
        estimator = self.build()
        from sklearn.base import is_classifier

        if not is_classifier(estimator):
            raise PydanticCustomError(
                "not_classifier",
                "model.estimator: {name} is not a classifier; active learning here picks "
                "records for a classifier (e.g. sklearn.linear_model.LogisticRegression)",
                {"name": type(estimator).__name__},
            )
        # scikit-learn checks parameter values only in fit; check them now, before a run starts.
        validate = getattr(estimator, "_validate_params", None)
        # A user's own BaseEstimator subclass inherits _validate_params without the
        # constraints it reads.
        if callable(validate) and hasattr(estimator, "_parameter_constraints"):
            try:
                validate()
            except (ValueError, TypeError) as exc:
                raise PydanticCustomError(
                    "estimator_params",
                    "model.params: they do not fit {name}: {reason}",
                    {"name": type(estimator).__name__, "reason": str(exc)},
                ) from None
        if self.retrain == "warm_start" and "warm_start" not in estimator.get_params():
            raise PydanticCustomError(
                "warm_start",
                "model.retrain: warm_start needs an estimator with a warm_start parameter and "
                "{name} has none; use retrain: scratch, or an estimator that supports it "
                "(SGDClassifier, LogisticRegression, MLPClassifier, ...)",
                {"name": type(estimator).__name__},
            )
        return self

    def build(self) -> Any:
        """A new, unfitted estimator with ``params`` (raises a config error on bad params)."""
        estimator_cls = import_object(self.estimator)
        try:
            return estimator_cls(**self.params)
        except TypeError as exc:
            raise PydanticCustomError(
                "estimator_params",
                "model.params: they do not fit {name}: {reason}",
                {"name": estimator_cls.__name__, "reason": str(exc)},
            ) from None


# --- init -----------------------------------------------------------------------------------


class RandomInit(Section):
    method: Literal["random"] = Field("random", description="Loop 0 labels random records.")
    size: PositiveInt = Field(20, description="How many records loop 0 labels.")


class KMeansInit(Section):
    method: Literal["kmeans"] = Field(description="The record nearest each k-means centroid.")
    size: PositiveInt = Field(
        20, description="How many clusters, so how many records loop 0 labels."
    )


class IdsInit(Section):
    method: Literal["ids"] = Field(description="The records listed in a file.")
    path: Path = Field(description="A text file with one record id per line.")

    _resolve = field_validator("path")(_resolve_path)


class LabeledInit(Section):
    method: Literal["labeled"] = Field(
        description="The records whose target the data already holds."
    )


INIT_CONFIGS: dict[str, type[Section]] = {
    "random": RandomInit,
    "kmeans": KMeansInit,
    "ids": IdsInit,
    "labeled": LabeledInit,
}


def _tag(key: str, default: str):
    """A discriminator that falls back to ``default`` when the tag key is absent."""

    def pick(value: Any) -> str | None:
        if isinstance(value, dict):
            return value.get(key, default)
        return getattr(value, key, None)

    return Discriminator(pick)


def _tagged_union(members: dict[str, type[Section]], key: str, default: str) -> Any:
    """A union of ``members`` picked by the value of ``key`` (``default`` when absent)."""
    tagged = tuple(Annotated[cls, Tag(tag)] for tag, cls in members.items())
    return Annotated[Union[tagged], _tag(key, default)]  # noqa: UP007 - built at run time


InitConfig = _tagged_union(INIT_CONFIGS, "method", "random")


# --- strategy -------------------------------------------------------------------------------


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
        return value if value == PHASES else check_name(value)

    @model_validator(mode="after")
    def _params_fit(self) -> StrategyConfig:
        if self.name != PHASES:
            if self.phases is not None:
                raise PydanticCustomError(
                    "name_and_phases",
                    "strategy.phases: give either name (one strategy) or phases, not both (to "
                    "replace phases from the command line, add --set strategy.phases=null)",
                )
            return check_params(self)
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
            text += f" (scored by {self.model.estimator.rsplit('.', 1)[-1].split(':')[-1]})"
        return text

    def build(self) -> Strategy:
        if self.name == PHASES:
            return Phases([(p.loops, p.name, p.build()) for p in self.phases])
        return StrategySpec.build(self)


# --- loop size ------------------------------------------------------------------------------


class ConstantSchedule(Section):
    schedule: Literal["constant"] = Field("constant", description="The same size every loop.")
    size: PositiveInt = Field(20, description="Records labeled per loop.")


class ListSchedule(Section):
    schedule: Literal["list"] = Field(description="One given size per loop.")
    sizes: list[PositiveInt] = Field(
        min_length=1, description="One size per loop; the run stops when the list ends."
    )


class LinearSchedule(Section):
    schedule: Literal["linear"] = Field(description="Sizes that grow by a fixed step.")
    size: PositiveInt = Field(description="The size of loop 1.")
    step: int = Field(description="Added per loop (may be negative; sizes never drop below 1).")


class GeometricSchedule(Section):
    schedule: Literal["geometric"] = Field(description="Sizes that grow by a fixed factor.")
    size: PositiveInt = Field(description="The size of loop 1.")
    factor: float = Field(gt=1, description="Each loop is factor times the previous one.")


SCHEDULE_CONFIGS: dict[str, type[Section]] = {
    "constant": ConstantSchedule,
    "list": ListSchedule,
    "linear": LinearSchedule,
    "geometric": GeometricSchedule,
}

LoopSizeConfig = _tagged_union(SCHEDULE_CONFIGS, "schedule", "constant")


# --- labeler --------------------------------------------------------------------------------


class LabelCost(Section):
    """What an answer costs: a price per label, overridden for some classes."""

    per_label: NonNegativeFloat = Field(
        0.0, description="The price of one answer (a skip costs it too: the time was spent)."
    )
    per_class: dict[str | int, NonNegativeFloat] = Field(
        default_factory=dict,
        description="Prices of answers of some classes, by class label, e.g. {rare: 5.0}.",
    )


class OracleLabeler(Section):
    kind: Literal["oracle"] = Field(
        "oracle", description="The simulated annotator: reveals the target the data holds."
    )
    cost: LabelCost = Field(default_factory=LabelCost, description="What each answer costs.")


class NoisyOracleLabeler(Section):
    kind: Literal["noisy_oracle"] = Field(
        description="A simulated annotator who makes mistakes, seeded: reveals the target the "
        "data holds, sometimes wrongly."
    )
    flip_rate: float = Field(
        0.1,
        ge=0,
        lt=1,
        description="Chance that an answer is a wrong class, drawn uniformly among the others.",
    )
    confusion: dict[str | int, dict[str | int, Annotated[float, Field(ge=0, le=1)]]] | None = Field(
        None,
        description="Instead of flip_rate: per true class, the chance of each given class, "
        "e.g. {cat: {cat: 0.9, dog: 0.1}}; what a row leaves of 1 stays on the true class, "
        "and classes without a row are answered right.",
    )
    cost: LabelCost = Field(default_factory=LabelCost, description="What each answer costs.")

    @field_validator("confusion")
    @classmethod
    def _rows_at_most_one(cls, value: dict | None) -> dict | None:
        # Which labels are classes is known only with the data: the labeler checks that.
        for true_label, row in (value or {}).items():
            total = sum(row.values())
            if total > 1 + 1e-9:
                raise PydanticCustomError(
                    "confusion_row",
                    "the row of true class '{label}' sums to {total}; a row gives the chance "
                    "of each answer for that class, so it sums to at most 1 (what it leaves "
                    "stays on the true class). Lower its values",
                    {"label": true_label, "total": f"{total:.4g}"},
                )
        return value

    @model_validator(mode="after")
    def _rate_or_confusion(self) -> NoisyOracleLabeler:
        # flip_rate's default is always there; only a flip_rate the user chose conflicts.
        default = type(self).model_fields["flip_rate"].default
        if self.confusion is not None and self.flip_rate != default:
            raise PydanticCustomError(
                "noisy_oracle_rate",
                "labeler.flip_rate: give either flip_rate or confusion, not both (confusion sets "
                "every mistake itself); remove flip_rate",
            )
        return self


class FileLabeler(Section):
    kind: Literal["file"] = Field(
        description="People label through files: the run writes pending/loop-NNNN/to_label.csv "
        "and tasks.json (Label Studio), waits, and `alcli resume RUN_DIR --labels FILE` takes "
        "the answers."
    )
    reoffer_skipped: bool = Field(
        False,
        description="Offer records an annotator skipped again in later loops (by default a "
        "skipped record leaves the pool).",
    )
    allow_new_classes: bool = Field(
        False,
        description="Accept answers naming a class the data does not have yet: it becomes a "
        "class of the run from then on (by default such answers are refused).",
    )
    cost: LabelCost = Field(default_factory=LabelCost, description="What each answer costs.")


class TerminalLabeler(Section):
    kind: Literal["terminal"] = Field(
        description="A person labels in the terminal during `alcli run`: a number or a class "
        "name, s to skip, u to undo, q to save and quit."
    )
    text_column: str | None = Field(
        None,
        description="CSV: show this column of each record (a text) instead of all its fields.",
    )
    reoffer_skipped: bool = Field(
        False, description="Offer records skipped in the terminal again in later loops."
    )
    cost: LabelCost = Field(default_factory=LabelCost, description="What each answer costs.")


class ModelLabeler(Section):
    kind: Literal["model"] = Field(
        description="Another model labels the records it is confident about; the rest go to "
        "the fallback labeler."
    )
    path: Path | None = Field(
        None,
        description="A saved scikit-learn model (joblib); loaded only with trust: true, because "
        "loading a pickle runs code.",
    )
    trust: bool = Field(
        False, description="Allow loading the model file at path (it can run any code)."
    )
    model: ModelConfig | None = Field(
        None, description="Instead of path: a model config trained on train_path."
    )
    train_path: Path | None = Field(
        None,
        description="With model: a labeled CSV or NPZ (the same columns as the data) to train "
        "the labeling model on.",
    )
    threshold: float = Field(
        0.9,
        gt=0,
        le=1,
        description="Keep the model's label only when its probability is at least this.",
    )
    fallback: LabelerConfig | None = Field(  # type: ignore[valid-type]
        None,
        description="Who labels the records the model is not confident about (a labeler "
        "section); without one they are skipped.",
    )
    cost: LabelCost = Field(default_factory=LabelCost, description="What each model answer costs.")

    _resolve = field_validator("path", "train_path")(_resolve_path)

    @model_validator(mode="after")
    def _one_model(self) -> ModelLabeler:
        if (self.path is None) == (self.model is None):
            raise PydanticCustomError(
                "labeling_model",
                "labeler: give exactly one of labeler.path (a saved scikit-learn model, with "
                "trust: true) or labeler.model with labeler.train_path (a model config trained on "
                "a labeled file)",
            )
        if self.path is not None and not self.trust:
            raise PydanticCustomError(
                "labeler_trust",
                "labeler.path: loading a model file runs code it contains; set labeler.trust: "
                "true if you trust {path} (you made it, or it comes from someone you trust), or "
                "use labeler.model with labeler.train_path to train the labeling model instead",
                {"path": str(self.path)},
            )
        if self.model is not None and self.train_path is None:
            raise PydanticCustomError(
                "labeler_train_path",
                "labeler.train_path: labeler.model needs a labeled file to be trained on (a CSV "
                "or NPZ with the same columns as the data); add labeler.train_path",
            )
        if self.model is None and self.train_path is not None:
            raise PydanticCustomError(
                "labeler_train_path",
                "labeler.train_path: it trains labeler.model, but labeler.path gives a model "
                "already trained; remove train_path, or replace path with a model section",
            )
        return self


LABELER_CONFIGS: dict[str, type[Section]] = {
    "oracle": OracleLabeler,
    "noisy_oracle": NoisyOracleLabeler,
    "file": FileLabeler,
    "terminal": TerminalLabeler,
    "model": ModelLabeler,
}

LabelerConfig = _tagged_union(LABELER_CONFIGS, "kind", "oracle")
ModelLabeler.model_rebuild()


# --- stop, metrics, output --------------------------------------------------------------------


class TargetConfig(Section):
    metric: str = Field(description="One of the names in metrics.")
    value: float = Field(description="Stop once the metric reaches this value (>=).")


class StopConfig(Section):
    max_loops: NonNegativeInt = Field(10, description="Loops after loop 0.")
    budget: PositiveInt | None = Field(None, description="Labels in total, loop 0 included.")
    budget_cost: PositiveFloat | None = Field(
        None,
        description="Money in total (labeler cost), loop 0 included: a loop is cut so that it "
        "cannot spend past it, and the run stops when no further label fits.",
    )
    target: TargetConfig | None = Field(
        None, description="Stop when a test metric reaches a value."
    )


class OutputConfig(Section):
    runs_dir: Path = Field(
        Path("runs"),
        description="Where run directories are made, relative to the working "
        "directory (alcli run --run-dir names one exactly).",
    )
    keep_models: Literal["last", "all", "none"] = Field(
        "last",
        description="Which loops write model.joblib: last (the final loop's, when the run "
        "stops), all, or none.",
    )


def _response_methods(metric: str) -> tuple[str, ...]:
    """The estimator methods a scikit-learn scorer calls (predict, predict_proba, ...)."""
    from sklearn.metrics import get_scorer

    method = getattr(get_scorer(metric), "_response_method", None)
    if method is None:
        return ()
    return (method,) if isinstance(method, str) else tuple(method)


def _scorer_names() -> list[str]:
    from sklearn.metrics import get_scorer_names

    return sorted(get_scorer_names())


class ExperimentConfig(Section):
    name: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
        description="Names the run directory (letters, digits, '.', '_', '-').",
    )
    seed: NonNegativeInt = Field(0, strict=True, description="Every random draw derives from it.")
    data: DataConfig = Field(description="The records: a bundled dataset or a file.")
    model: ModelConfig = Field(default_factory=ModelConfig, description="The classifier.")
    init: InitConfig = Field(default_factory=RandomInit, description="Loop 0's selection.")
    strategy: StrategyConfig = Field(
        default_factory=StrategyConfig, description="The querying strategy of loops 1, 2, ..."
    )
    loop_size: LoopSizeConfig = Field(
        default_factory=ConstantSchedule, description="How many records each loop labels."
    )
    labeler: LabelerConfig = Field(
        default_factory=OracleLabeler, description="Who answers the LABEL step."
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

    @field_validator("metrics")
    @classmethod
    def _known_metrics(cls, value: list[str]) -> list[str]:
        known = _scorer_names()
        for name in value:
            if name not in known:
                raise PydanticCustomError(
                    "unknown_metric",
                    "Unknown metric '{name}'{hint}. Use scikit-learn scorer "
                    "names, e.g. accuracy, balanced_accuracy, f1_macro, roc_auc_ovr, neg_log_loss",
                    {"name": name, "hint": _did_you_mean(name, known)},
                )
        if len(set(value)) != len(value):
            raise PydanticCustomError("duplicate_metric", "a metric is listed twice")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ExperimentConfig:
        if self.stop.target is not None and self.stop.target.metric not in self.metrics:
            raise PydanticCustomError(
                "target_metric",
                "stop.target.metric '{metric}' is not in metrics ({listed}); add it to metrics",
                {"metric": self.stop.target.metric, "listed": ", ".join(self.metrics)},
            )
        init_size = getattr(self.init, "size", None)
        if self.stop.budget is not None and init_size is not None and self.stop.budget < init_size:
            raise PydanticCustomError(
                "budget",
                "stop.budget: {budget} is below init.size ({size}); the initial set "
                "alone would exceed it; raise the budget or lower init.size",
                {"budget": self.stop.budget, "size": init_size},
            )
        if self.stop.budget_cost is not None and init_size is not None:
            from alcli.labelers.base import max_price  # the labelers import this module

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
        estimator = self.model.build()
        for metric in self.metrics:
            methods = _response_methods(metric)
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
        problem = strategy.check_model(selection_estimator)
        if problem:
            key = "strategy.model" if self.strategy.model else "strategy.name"
            raise PydanticCustomError(
                "strategy_model", "{key}: {problem}", {"key": key, "problem": problem}
            )
        return self


# --- loading --------------------------------------------------------------------------------


def load_config(path: str | Path, overrides: list[str] = ()) -> ExperimentConfig:
    """Read, override and validate a config file.

    Parameters
    ----------
    path
        The YAML file. Relative paths inside it are resolved against its folder.
    overrides
        ``key.path=value`` strings; the value is read as YAML (``3``, ``true``, ``[a, b]``).

    Raises
    ------
    ConfigError
        One line per problem, naming the key and, when known, its line in the file.
    """
    path = Path(path)
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(source, ["file not found; give the path of a YAML config"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(source, [f"cannot be read: {exc}"]) from None
    try:
        raw = yaml.safe_load(text)
        lines = _line_numbers(yaml.compose(text))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(source, [f"{where}malformed YAML: {problem}"]) from None
    except DuplicateKey as exc:
        raise ConfigError(source, [str(exc)]) from None
    if raw is None:
        raise ConfigError(
            source,
            [
                "the file is empty; a config is a mapping with at least a data section, e.g. "
                "'data: {source: sklearn:digits}'"
            ],
        )
    if not isinstance(raw, dict):
        raise ConfigError(
            source,
            [
                f"the top level must be a mapping of keys (name, seed, data, model, ...), "
                f"got a {type(raw).__name__}"
            ],
        )
    overridden = apply_overrides(raw, overrides, source)
    raw.setdefault("name", _default_name(path))
    return validate_config(
        raw, source, base_dir=path.resolve().parent, lines=lines, overridden=overridden
    )


def validate_config(
    raw: dict[str, Any],
    source: str,
    base_dir: Path,
    lines: dict[tuple, int] | None = None,
    overridden: set[tuple] = frozenset(),
) -> ExperimentConfig:
    """Validate a raw mapping; turn every pydantic error into one readable line."""
    try:
        return ExperimentConfig.model_validate(raw, context={"base_dir": base_dir})
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            key, message = _key_and_message(err)
            where = ""
            if _from_override(key, overridden, lines or {}):
                where = " (from --set)"
            elif lines and _nearest_line(lines, key) is not None:
                where = f" (line {_nearest_line(lines, key)})"
            problems.append(_describe(err, ExperimentConfig, key, message, where))
        raise ConfigError(source, problems) from None


def apply_overrides(raw: dict[str, Any], overrides: list[str], source: str) -> set[tuple]:
    """Apply ``key.path=value`` overrides in place; return the key paths they touched."""
    touched = set()
    for item in overrides:
        key, sep, value_text = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(
                source, [f"--set '{item}': expected key.path=value, e.g. --set seed=3"]
            )
        keys = tuple(key.strip().split("."))
        try:
            value = yaml.safe_load(value_text) if value_text.strip() else ""
        except yaml.YAMLError:
            value = value_text
        node = raw
        for depth, part in enumerate(keys[:-1]):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                prefix = ".".join(keys[: depth + 1])
                raise ConfigError(
                    source,
                    [f"--set '{item}': {prefix} is {_a(type(child).__name__)}, not a section"],
                )
            node = child
        node[keys[-1]] = value
        touched.add(keys)
    return touched


def freeze(config: ExperimentConfig) -> tuple[str, ExperimentConfig]:
    """The resolved config as YAML (every default filled in, data paths absolute), and the
    config read back from that text: a run executes what its run directory records.

    Raises
    ------
    ConfigError
        When a value does not survive the round trip (resume could not reproduce the run).
    """
    text = yaml.safe_dump(_plain(config.model_dump(mode="python")), sort_keys=False)
    frozen = validate_config(yaml.safe_load(text), "the frozen config", base_dir=Path.cwd())
    if frozen != config:
        raise ConfigError(
            "the frozen config",
            [
                "a value does not survive being saved as YAML, so the run could not be resumed "
                "exactly; use plain numbers, strings, lists and mappings in model.params"
            ],
        )
    return text, frozen


def _plain(value: Any) -> Any:
    """Paths as strings, everything else as YAML can hold it."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def _a(noun: str) -> str:
    return f"an {noun}" if noun[:1] in "aeiou" else f"a {noun}"


def _default_name(path: Path) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "-", path.stem).strip("-._") or "run"


# --- error formatting -------------------------------------------------------------------------

_UNION_SECTIONS = {"init": INIT_CONFIGS, "loop_size": SCHEDULE_CONFIGS, "labeler": LABELER_CONFIGS}
_TAG_KEYS = {"init": "method", "loop_size": "schedule", "labeler": "kind"}


def _from_override(key: tuple, overridden: set[tuple], lines: dict[tuple, int]) -> bool:
    """Whether an error at ``key`` comes from a --set override (at, above or below it)."""
    for override in overridden:
        if key[: len(override)] == override:
            return True
        if override[: len(key)] == key and key not in lines:
            return True
    return False


def _did_you_mean(value: str, choices) -> str:
    close = difflib.get_close_matches(str(value), list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _display_loc(loc: tuple) -> tuple:
    """Drop the union tag pydantic inserts (``init.random.size`` -> ``init.size``)."""
    if len(loc) > 1 and loc[0] in _UNION_SECTIONS and loc[1] in _UNION_SECTIONS[loc[0]]:
        return (loc[0], *loc[2:])
    return tuple(loc)


def _section_class(root: type[BaseModel], loc: tuple) -> type[BaseModel] | None:
    """The model class that holds the last key of ``loc`` (to list its valid keys)."""
    if root is not ExperimentConfig:
        return root if len(loc) == 1 else None
    if len(loc) == 1:
        return ExperimentConfig
    head = loc[0]
    if head in _UNION_SECTIONS:
        return _UNION_SECTIONS[head].get(loc[1]) if len(loc) == 3 else None
    cls: Any = ExperimentConfig
    for part in loc[:-1]:
        field = getattr(cls, "model_fields", {}).get(part)
        if field is None:
            return None
        annotation = field.annotation
        candidates = [
            a
            for a in getattr(annotation, "__args__", (annotation,))
            if isinstance(a, type) and issubclass(a, BaseModel)
        ]
        if not candidates:
            return None
        cls = candidates[0]
    return cls


_KEY_FIRST = re.compile(r"^([a-z_]+(?:\.[a-z_]+)*): (.*)$", re.DOTALL)


def _key_and_message(err: dict) -> tuple[tuple, str]:
    """The key an error is about, and its message without that key.

    Checks that span a section or the whole config name their key first ("stop.budget: ..."),
    so the message can point at that key (and its line) instead of the section.
    """
    loc = _display_loc(tuple(err["loc"]))
    message = err["msg"].removeprefix("Value error, ")
    named = _KEY_FIRST.match(message)
    if named:
        key = tuple(named.group(1).split("."))
        if key[: len(loc)] == loc:
            return key, named.group(2)
    return loc, message


def _describe(
    err: dict, root: type[BaseModel], key_path: tuple = (), message: str = "", where: str = ""
) -> str:
    loc = tuple(err["loc"])
    key_path = key_path or _display_loc(loc)
    message = message or err["msg"].removeprefix("Value error, ")
    key = ".".join(str(p) for p in key_path) or "(top level)"
    kind = err["type"]
    if kind == "extra_forbidden":
        parent = _section_class(root, loc)
        valid = sorted(parent.model_fields) if parent else []
        hint = _did_you_mean(loc[-1], valid)
        listing = f"; valid keys here: {', '.join(valid)}" if valid else ""
        return f"{key}{where}: unknown key{hint}{listing}"
    if kind == "missing":
        return f"{key}{where}: required key is missing"
    if kind in ("union_tag_invalid", "union_tag_not_found") and not isinstance(
        err.get("input"), dict
    ):
        example = {
            "init": "{method: random, size: 20}",
            "loop_size": "{schedule: constant, size: 20}",
            "labeler": "{kind: oracle}",
        }.get(loc[0] if loc else "", "{...}")
        return f"{key}{where}: must be a mapping like {example}; got {err.get('input')!r}"
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        section = loc[0] if loc else ""
        allowed = ", ".join(sorted(_UNION_SECTIONS.get(section, {})))
        tag_key = _TAG_KEYS.get(section, "kind")
        given = (err.get("ctx") or {}).get("tag", "")
        hint = _did_you_mean(given, _UNION_SECTIONS.get(section, {}))
        return f"{key}.{tag_key}{where}: Unknown {tag_key} '{given}'{hint}. Available: {allowed}."
    if kind.startswith(
        (
            "greater",
            "less",
            "string_",
            "int_",
            "float_",
            "bool_",
            "list_",
            "too_",
            "literal_",
            "dict_",
            "model_type",
            "path_type",
            "bytes_",
        )
    ):
        return f"{key}{where}: {message}; got {err.get('input')!r}"
    return f"{key}{where}: {message}"


class DuplicateKey(ValueError):
    def __init__(self, key: str, first: int, second: int):
        super().__init__(
            f"{key} (line {second}): the key appears twice (first at line {first}); keep one"
        )


def _line_numbers(node: yaml.Node | None, prefix: tuple = ()) -> dict[tuple, int]:
    """Map every key path of a composed YAML document to its 1-based line."""
    lines: dict[tuple, int] = {}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            path = (*prefix, key_node.value)
            if path in lines:
                # yaml.safe_load would keep the last value silently.
                raise DuplicateKey(
                    ".".join(map(str, path)), lines[path], key_node.start_mark.line + 1
                )
            lines[path] = key_node.start_mark.line + 1
            lines.update(_line_numbers(value_node, path))
    return lines


def _nearest_line(lines: dict[tuple, int], key: tuple) -> int | None:
    """The line of ``key``, or of its closest ancestor that is in the file."""
    for depth in range(len(key), 0, -1):
        if key[:depth] in lines:
            return lines[key[:depth]]
    return None

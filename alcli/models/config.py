"""The ``model`` section: a classifier (``estimator``), a pipeline ending in one (``steps``) or a
function that builds either (``factory``); with what parameters, retrained how."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, NoReturn

from pydantic import (
    Field,
    PositiveInt,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError
from sklearn.base import is_classifier
from sklearn.pipeline import Pipeline, make_pipeline

from alcli.models.pipelines import (
    describe,
    estimators_of,
    final_estimator,
    is_pipeline,
    pipeline_problem,
    step_problem,
)
from alcli.models.user_code import import_from, lives_in, nearest_path
from alcli.schema import Section, resolve_path

DEFAULT_ESTIMATOR = "sklearn.linear_model.LogisticRegression"
#: The three ways to give the model; exactly one is used.
FORMS = ("estimator", "steps", "factory")
STEPS_EXAMPLE = (
    "steps: [{estimator: sklearn.preprocessing.StandardScaler}, "
    "{estimator: sklearn.linear_model.LogisticRegression, params: {max_iter: 1000}}]"
)


class StepConfig(Section):
    """One step of a pipeline: a transformer, or (the last step) the classifier."""

    estimator: str = Field(
        description="Import path of the step's class: a transformer "
        "(sklearn.preprocessing.StandardScaler) or, for the last step, the classifier."
    )
    params: dict[str, Any] = Field(
        default_factory=dict, description="Keyword arguments for the step."
    )


class ModelConfig(Section):
    estimator: str | None = Field(
        None,
        description="Import path of a scikit-learn compatible classifier (default "
        f"{DEFAULT_ESTIMATOR} when neither steps nor factory is given).",
    )
    steps: list[StepConfig] | None = Field(
        None,
        description="Instead of estimator, a pipeline: transformers, then the classifier, each "
        "{estimator, params}; the model is sklearn.pipeline.Pipeline of them.",
        json_schema_extra={"type_text": "list of {estimator, params}"},
    )
    factory: str | None = Field(
        None,
        description="Instead of estimator, a function (mypkg.models:make_model) called with "
        "params that returns a classifier or a Pipeline ending in one.",
    )
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="Keyword arguments for the estimator, or for the factory (with steps, each "
        "step has its own).",
    )
    retrain: Literal["scratch", "warm_start"] = Field(
        "scratch",
        description="scratch: a fresh model each loop; warm_start: continue from the previous "
        "loop's model (a classifier, or a pipeline's last step, with a warm_start parameter).",
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
    code_dir: Path | None = Field(
        None,
        description="A folder your own modules (factory, estimator, steps) are imported from "
        "before installed packages; by default the config file's folder when the module is "
        "there. Recorded, so a resumed run imports the same code.",
    )

    _resolve = field_validator("code_dir")(resolve_path)

    @model_validator(mode="before")
    @classmethod
    def _defaults(cls, raw: Any, info: ValidationInfo) -> Any:
        if not isinstance(raw, dict):
            return raw
        raw = dict(raw)
        if all(raw.get(key) is None for key in FORMS):
            raw["estimator"] = DEFAULT_ESTIMATOR
        context = info.context or {}
        base = context.get("base_dir")
        # The config's folder is recorded only when it holds a module the model names, so
        # configs that import nothing of their own freeze as they always did.
        if (
            raw.get("code_dir") is None
            and base is not None
            and not context.get("checked")
            and any(lives_in(Path(base), path) for path in _import_paths(raw))
        ):
            raw["code_dir"] = Path(base).resolve()
        return raw

    @field_validator("code_dir")
    @classmethod
    def _a_folder(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_dir():
            raise PydanticCustomError("code_dir", "{path} is not a folder", {"path": str(value)})
        return value

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

    @model_validator(mode="after")
    def _buildable(self) -> ModelConfig:
        given = [key for key in FORMS if getattr(self, key) is not None]
        if len(given) > 1:
            _refuse(
                (given[1],),
                "model_form",
                "give one of estimator (a classifier), steps (a pipeline) or factory (a function "
                "that builds the model), not both {first} and {second}; set the other to null",
                {"first": given[0], "second": given[1]},
            )
        if self.steps is not None:
            model = self._checked_steps()
        elif self.factory is not None:
            model = self._checked_factory()
        else:
            model = self._checked_estimator()
        final = final_estimator(model)
        takes = final.get_params(deep=False) if hasattr(final, "get_params") else {}
        if self.retrain == "warm_start" and "warm_start" not in takes:
            name = type(final).__name__
            if is_pipeline(model):
                name += " (the pipeline's last step)"
            _refuse(
                ("retrain",),
                "warm_start",
                "warm_start needs an estimator with a warm_start parameter and {name} has none; "
                "use retrain: scratch, or an estimator that supports it (SGDClassifier, "
                "LogisticRegression, MLPClassifier, ...)",
                {"name": name},
            )
        return self

    @model_serializer(mode="wrap")
    def _without_unused(self, handler: Any) -> dict[str, Any]:
        # Only the form in use is written out: a frozen config of a plain estimator reads as
        # it did before steps and factories existed.
        data = handler(self)
        for key in (*FORMS, "code_dir"):
            if isinstance(data, dict) and data.get(key) is None:
                data.pop(key, None)
        return data

    # --- building -----------------------------------------------------------------------------

    def build(self) -> Any:
        """A new, unfitted model (not seeded: see :func:`alcli.models.build_model`)."""
        if self.steps is not None:
            return make_pipeline(
                *(import_from(s.estimator, self.code_dir)(**s.params) for s in self.steps)
            )
        if self.factory is not None:
            return import_from(self.factory, self.code_dir)(**self.params)
        return import_from(self.estimator, self.code_dir)(**self.params)

    def summary(self) -> str:
        """One line for people: ``StandardScaler -> LogisticRegression``."""
        if self.factory is not None:
            return f"{describe(self.build())} (from {self.factory})"
        paths = [s.estimator for s in self.steps] if self.steps is not None else [self.estimator]
        return " -> ".join(path.rsplit(":", 1)[-1].rsplit(".", 1)[-1] for path in paths)

    # --- checks, each refusing with the key of the problem ------------------------------------

    def _import(self, loc: tuple, path: str, fix: str) -> Any:
        try:
            return import_from(path, self.code_dir)
        except ImportError as exc:
            near = nearest_path(path, self.code_dir)
            hint = f" (did you mean '{near}'?)" if near and near != path else ""
            _refuse(
                loc,
                "estimator_import",
                "cannot import '{value}': {reason}{hint}. {fix}",
                {"value": path, "reason": str(exc), "hint": hint, "fix": fix},
                path,
            )

    def _estimator_class(self, loc: tuple, path: str, fix: str) -> type:
        cls = self._import(loc, path, fix)
        if not isinstance(cls, type) or not hasattr(cls, "fit"):
            _refuse(
                loc,
                "estimator_kind",
                "'{value}' is not an estimator class (it has no fit method)",
                {"value": path},
                path,
            )
        if issubclass(cls, Pipeline):
            _refuse(
                loc,
                "pipeline_as_estimator",
                "a pipeline is given as model steps, the classifier last, instead of "
                "'{value}' as estimator: {example}",
                {"value": path, "example": STEPS_EXAMPLE},
                path,
            )
        return cls

    def _construct(self, loc: tuple, cls: type, params: dict[str, Any]) -> Any:
        try:
            return cls(**params)
        except (TypeError, ValueError) as exc:
            _refuse(
                loc,
                "estimator_params",
                "they do not fit {name}: {reason}",
                {"name": cls.__name__, "reason": str(exc)},
                params,
            )

    def _check_values(self, loc: tuple, estimator: Any, params: dict[str, Any]) -> None:
        # scikit-learn checks parameter values only in fit; check them now, before a run starts.
        problem = _refused_params(estimator)
        if problem:
            _refuse(
                loc,
                "estimator_params",
                "they do not fit {name}: {reason}",
                {"name": type(estimator).__name__, "reason": problem},
                params,
            )

    def _checked_estimator(self) -> Any:
        fix = "Give the import path of a classifier, e.g. " + DEFAULT_ESTIMATOR
        cls = self._estimator_class(("estimator",), self.estimator, fix)
        estimator = self._construct(("params",), cls, self.params)
        if not is_classifier(estimator):
            _refuse(
                ("estimator",),
                "not_classifier",
                "{name} is not a classifier; active learning here picks records for a "
                "classifier (e.g. sklearn.linear_model.LogisticRegression)",
                {"name": cls.__name__},
                self.estimator,
            )
        self._check_values(("params",), estimator, self.params)
        return estimator

    def _checked_steps(self) -> Any:
        if not self.steps:
            _refuse(
                ("steps",),
                "steps_empty",
                "a pipeline needs at least one step, the classifier last, e.g. {example}",
                {"example": STEPS_EXAMPLE},
                [],
            )
        if self.params:
            _refuse(
                ("params",),
                "steps_params",
                "with steps, each step has its own params ({estimator: ..., params: {...}}); "
                "move them into the step they are for",
                None,
                self.params,
            )
        fix = (
            "Give the import path of a transformer or classifier class, e.g. "
            "sklearn.preprocessing.StandardScaler"
        )
        built = []
        for k, step in enumerate(self.steps):
            cls = self._estimator_class(("steps", k, "estimator"), step.estimator, fix)
            estimator = self._construct(("steps", k, "params"), cls, step.params)
            self._check_values(("steps", k, "params"), estimator, step.params)
            problem = step_problem(estimator, last=k == len(self.steps) - 1)
            if problem:
                _refuse(("steps", k, "estimator"), "step_role", "{problem}", {"problem": problem})
            built.append(estimator)
        return make_pipeline(*built)

    def _checked_factory(self) -> Any:
        fix = (
            "Give the import path of a function that returns the model, e.g. "
            "mypkg.models:make_model, its package in the config file's folder or installed"
        )
        factory = self._import(("factory",), self.factory, fix)
        if not callable(factory):
            _refuse(
                ("factory",),
                "factory_kind",
                "'{value}' is not a function (it cannot be called)",
                {"value": self.factory},
                self.factory,
            )
        try:
            model = factory(**self.params)
        except Exception as exc:  # a user's function may fail in any way
            _refuse(
                ("factory",),
                "factory_failed",
                "{value} failed when called with model.params {params}: {error}",
                {
                    "value": self.factory,
                    "params": self.params,
                    "error": f"{type(exc).__name__}: {exc}",
                },
                self.factory,
            )
        problem = _factory_result_problem(model)
        if problem:
            _refuse(
                ("factory",),
                "factory_result",
                "{value} returned {problem}; a factory returns a scikit-learn classifier or a "
                "Pipeline ending in one (e.g. make_pipeline(StandardScaler(), "
                "LogisticRegression()))",
                {"value": self.factory, "problem": problem},
                self.factory,
            )
        return model


def _refuse(
    loc: tuple, kind: str, message: str, ctx: dict[str, Any] | None = None, value: Any = None
) -> NoReturn:
    """Fail validation at ``loc`` (a key path inside the model section), so the message names
    ``model.steps.1.estimator`` wherever the section sits (strategy.model, labeler.model)."""
    raise ValidationError.from_exception_data(
        "ModelConfig",
        [InitErrorDetails(type=PydanticCustomError(kind, message, ctx), loc=loc, input=value)],
    )


def _refused_params(estimator: Any) -> str | None:
    """scikit-learn's own check of an estimator's parameter values, or None when they pass."""
    validate = getattr(estimator, "_validate_params", None)
    # A user's own BaseEstimator subclass inherits _validate_params without the constraints
    # it reads.
    if callable(validate) and hasattr(estimator, "_parameter_constraints"):
        try:
            validate()
        except (ValueError, TypeError) as exc:
            return str(exc)
    return None


def _factory_result_problem(model: Any) -> str | None:
    if isinstance(model, type):
        return f"the class {model.__name__}, not an instance of it (return {model.__name__}())"
    if is_pipeline(model):
        found = pipeline_problem(model)
        if found is not None:
            k, problem = found
            return f"a pipeline ({describe(model)}) whose step {k}: {problem}"
    elif not (hasattr(model, "fit") and is_classifier(model)):
        what = "None" if model is None else f"a {type(model).__name__}"
        return f"{what}, not a classifier"
    for step in estimators_of(model):
        problem = _refused_params(step)
        if problem:
            return f"{describe(model)}, with values {type(step).__name__} refuses: {problem}"
    return None


def _import_paths(raw: dict[str, Any]) -> list[str]:
    """The import paths a raw model section names (its estimator, steps, factory)."""
    paths = [raw.get("estimator"), raw.get("factory")]
    steps = raw.get("steps")
    if isinstance(steps, list):
        paths += [step.get("estimator") for step in steps if isinstance(step, dict)]
    return [path for path in paths if isinstance(path, str) and path]

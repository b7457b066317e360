"""The ``model`` section: which classifier, with what parameters, retrained how."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, PositiveInt, field_validator, model_validator
from pydantic_core import PydanticCustomError

from alcli.registry import import_object
from alcli.schema import Section

DEFAULT_ESTIMATOR = "sklearn.linear_model.LogisticRegression"


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

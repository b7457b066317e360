"""A model is a classifier or a scikit-learn Pipeline ending in one: its parts, its name for
people, and what makes a pipeline one alcli can run."""

from __future__ import annotations

from typing import Any

from sklearn.base import is_classifier
from sklearn.pipeline import Pipeline


def is_pipeline(model: Any) -> bool:
    return isinstance(model, Pipeline)


def estimators_of(model: Any) -> list[Any]:
    """A pipeline's step estimators in order (``passthrough`` steps left out), or ``[model]``."""
    if not is_pipeline(model):
        return [model]
    return [step for _, step in model.steps if step is not None and step != "passthrough"]


def final_estimator(model: Any) -> Any:
    """The classifier a pipeline ends in, or the model itself."""
    return model.steps[-1][1] if is_pipeline(model) else model


def describe(model: Any) -> str:
    """``StandardScaler -> LogisticRegression`` for a pipeline; a classifier's class name."""
    if is_pipeline(model):
        return " -> ".join(_name(step) for _, step in model.steps)
    return _name(model)


def _name(step: Any) -> str:
    return "passthrough" if step is None or step == "passthrough" else type(step).__name__


def step_problem(step: Any, last: bool) -> str | None:
    """Why ``step`` cannot stand at its place in a pipeline (the last place: the classifier;
    any other: a transformer), or None."""
    name = _name(step)
    if last:
        if is_classifier(step):
            return None
        return (
            f"{name} is not a classifier; a pipeline's last step is the classifier it ends in "
            "(e.g. sklearn.linear_model.LogisticRegression), the steps before it transform "
            "the features"
        )
    if step is None or step == "passthrough" or hasattr(step, "transform"):
        return None
    where = ", and a classifier goes last" if is_classifier(step) else ""
    return (
        f"{name} is not a transformer (it has no transform method){where}; every step but the "
        "last transforms the features (e.g. sklearn.preprocessing.StandardScaler, "
        "sklearn.impute.SimpleImputer, sklearn.decomposition.PCA)"
    )


def pipeline_problem(model: Any) -> tuple[int, str] | None:
    """The first step of a pipeline that cannot stand where it does, and why; or None."""
    steps = [step for _, step in model.steps]
    for k, step in enumerate(steps):
        problem = step_problem(step, last=k == len(steps) - 1)
        if problem:
            return k, problem
    return None

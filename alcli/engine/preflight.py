"""The config held against its data before anything is written: every mismatch becomes one
clear message, and the components that refuse the data do so now."""

from __future__ import annotations

import sys
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.dummy import DummyClassifier

from alcli.classes import UNLABELED, codes_by_text, label_text, with_new_classes
from alcli.config import ExperimentConfig, load_config
from alcli.data import Dataset, load_dataset, rows_where
from alcli.engine.warned import Caught, estimator_name
from alcli.errors import AlcliError, DataError, agree, plural, preview
from alcli.initialization import InitMethod, build_init
from alcli.labelers import (
    Labeler,
    LabelerContext,
    build_labeler,
    chain_has,
    first_with,
    labeler_chain,
    max_price,
)
from alcli.metrics import evaluate
from alcli.models import accepts_nan
from alcli.strategies import Strategy


@dataclass(frozen=True)
class Experiment:
    """A validated config with its loaded data and built components: everything needed to
    run, nothing written."""

    config: ExperimentConfig
    data: Dataset
    init: InitMethod
    initial: np.ndarray | None  # pool indices of loop 0 for init methods given them
    labeler: Labeler  # built here, so that one that refuses the data does so before any write
    strategy: Strategy
    new_classes: tuple = ()  # classes annotators added during the run (allow_new_classes)
    #: What reading the data and building the labeler warned (Caught.items()), for the run.
    warnings: tuple = ()

    def with_new_classes(self, new: list) -> Experiment:
        """This experiment with ``new`` classes appended to the data's (codes stay put)."""
        if not new:
            return self
        data = replace(self.data, classes=with_new_classes(self.data.classes, new))
        return replace(self, data=data, new_classes=(*self.new_classes, *new))


def prepare(config: ExperimentConfig, initial_set: bool = True) -> Experiment:
    """Load the data and check it against the config.

    ``initial_set=False`` skips resolving loop 0's inputs (an ids file), for a resume whose
    loop 0 is already saved.

    Raises
    ------
    DataError
        For every mismatch between config and data, before anything is written.
    """
    caught = Caught()
    with caught.step("data", key="data"):
        data = load_dataset(config.data, config.seed)
    where = config.data.path or config.data.source
    oracle = _truth_teller(config)
    if oracle is not None:
        missing = np.flatnonzero(data.y == UNLABELED)
        if missing.size:
            raise DataError(
                f"{where}: the {oracle} labeler reveals the target the data holds, "
                f"but {plural(missing.size, 'pool record')} "
                f"{agree(missing.size, 'lacks', 'lack')} one (ids {preview(data.ids[missing])}); "
                f"fill '{config.data.target}' for every record"
            )
    strategy = config.strategy.build()
    refusing_nan = _what_refuses_nan(config, strategy)
    if refusing_nan:
        for X, ids in ((data.X, data.ids), (data.X_test, data.ids_test)):
            rows = rows_where(X, np.isnan)
            if rows.size:
                raise DataError(
                    f"{where}: missing feature values in {plural(rows.size, 'record')} (ids "
                    f"{preview(ids[rows])}), and {refusing_nan} cannot take NaN; fill them, "
                    "or use a model and strategy that accept them (e.g. "
                    "sklearn.ensemble.HistGradientBoostingClassifier with margin)"
                )
    _check_metrics_fit_the_data(config, data)
    _check_model_takes_sparse(config, data)
    _check_prices(config, data)
    init = build_init(config.init)
    initial = _initial_indices(config, init, data) if initial_set else None
    with caught.step("label", key="labeler.model") as source:  # a labeling model is fit here
        labeler = build_labeler(
            config.labeler, LabelerContext(data.y, data.classes, config.data, config.seed)
        )
        source.name = _labeling_model_name(labeler)
    return Experiment(
        config, data, init, initial, labeler, strategy, warnings=tuple(caught.items())
    )


def _labeling_model_name(labeler: Labeler) -> str:
    """The class name of the model a labeler in the chain labels with ("" without one)."""
    link: Any = labeler
    while link is not None:
        if hasattr(link, "estimator_"):
            return estimator_name(link.estimator_)
        link = getattr(link, "fallback_", None)
    return ""


def _initial_indices(
    config: ExperimentConfig, init: InitMethod, data: Dataset
) -> np.ndarray | None:
    """Loop 0's pool indices when the init method is given them; checks the sizes."""
    budget, n_pool = config.stop.budget, data.ids.shape[0]
    if not init.given:
        if init.size > n_pool:
            raise DataError(
                f"init.size ({init.size}) is larger than the pool ({n_pool} records after "
                "holding out the test set); lower init.size"
            )
        return None
    method = config.init.method
    if init.uses_targets and _truth_teller(config) is not None:
        raise DataError(
            f"init.method: {method} takes the records whose target the data already holds, "
            f"and with the {_truth_teller(config)} labeler every record holds one, so loop 0 "
            "would label the whole pool. Use init.method random, kmeans or ids."
        )
    initial = init.given_indices(data, config.data)
    if budget is not None and initial.size > budget:
        raise DataError(
            f"stop.budget ({budget}) is below the initial set ({initial.size} records from "
            f"init.method {method}); raise the budget"
        )
    price = max_price(config.labeler)
    if config.stop.budget_cost is not None and initial.size * price > config.stop.budget_cost:
        raise DataError(
            f"stop.budget_cost ({config.stop.budget_cost}) is below what the initial set can "
            f"cost ({initial.size} records from init.method {method} at up to {price} "
            "each); raise the budget"
        )
    return initial


def asks_a_person(config: ExperimentConfig) -> bool:
    """Whether a labeler in the chain asks at the terminal during the run."""
    return chain_has(config.labeler, "needs_tty")


def asks_a_person_in(path: Path) -> bool:
    """:func:`asks_a_person` for a run directory's config (False if it cannot be read:
    resume then reports why)."""
    try:
        return asks_a_person(load_config(Path(path) / "config.yaml"))
    except AlcliError:
        return False


def check_terminal(config: ExperimentConfig) -> None:
    """A person must be at a terminal for the terminal labeler (checked before writing)."""
    if asks_a_person(config) and not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise DataError(
            "labeler: the terminal labeler asks a person at an interactive terminal, and this "
            "process has none (stdin or stdout is redirected); run alcli in a terminal, or use "
            "labeler: {kind: file} to label through a spreadsheet"
        )


def _check_model_takes_sparse(config: ExperimentConfig, data: Dataset) -> None:
    """Text and category columns become a sparse matrix; a model that needs dense features
    would fail at its first fit, so it is refused now, with the models that work."""
    if not sp.issparse(data.X):
        return
    from sklearn.utils import get_tags

    model = config.model.build()
    try:
        takes_sparse = bool(get_tags(model).input_tags.sparse)
    except (AttributeError, TypeError):
        return  # a model without tags: its first fit will say
    if not takes_sparse:
        kinds = sorted({k for k in data.column_kinds.values() if k in ("text", "categorical")})
        raise DataError(
            f"model: {type(model).__name__} needs dense features, and the "
            f"{' and '.join(kinds) or 'sparse'} columns of {config.data.path} make them sparse "
            f"({data.X.shape[1]} features); use a model that takes sparse features "
            "(sklearn.linear_model.LogisticRegression, sklearn.svm.LinearSVC, "
            "sklearn.linear_model.SGDClassifier, sklearn.naive_bayes.MultinomialNB, "
            "sklearn.ensemble.RandomForestClassifier)"
        )


def _check_prices(config: ExperimentConfig, data: Dataset) -> None:
    """Every class a price names is a class of the data (a typo would price nothing, yet
    cut loops under stop.budget_cost)."""
    known = codes_by_text(data.classes)
    for cfg in labeler_chain(config.labeler):
        if getattr(cfg, "allow_new_classes", False):
            continue
        unknown = [label_text(k) for k in cfg.cost.per_class if label_text(k) not in known]
        if unknown:
            raise DataError(
                f"labeler.cost.per_class ({cfg.kind}): {preview(unknown)} "
                f"{agree(len(unknown), 'is not a class', 'are not classes')} of the data; the "
                f"classes are {', '.join(sorted(known))}. Price classes by their labels"
            )


def _truth_teller(config: ExperimentConfig) -> str | None:
    """The kind of a labeler in the chain that reveals the data's target (None if none)."""
    teller = first_with(config.labeler, "needs_truth")
    return None if teller is None else teller.kind


def _what_refuses_nan(config: ExperimentConfig, strategy: Strategy) -> str | None:
    """What in the config cannot work with missing feature values (None if all can)."""
    estimators: list[tuple[str, Any]] = [("model", config.model.build())]
    if config.strategy.model is not None:
        estimators.append(("strategy.model", config.strategy.model.build()))
    for key, estimator in estimators:
        if not accepts_nan(estimator):
            return f"{type(estimator).__name__} ({key})"
    if not strategy.accepts_nan:
        return f"strategy '{config.strategy.name}' (it measures distances between records)"
    return None


def _check_metrics_fit_the_data(config: ExperimentConfig, data: Dataset) -> None:
    """Score a constant predictor with every metric, so a metric that cannot work on these
    classes (roc_auc on three classes, say) fails now rather than after loop 0."""
    if not config.data.has_test_set:
        return
    y_test = data.decode(data.y_test)
    probe = DummyClassifier(strategy="prior").fit(data.X_test, y_test)
    for metric in config.metrics:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                evaluate(probe, data.X_test, y_test, [metric], data.classes)
        except (ValueError, TypeError) as exc:
            raise DataError(
                f"metrics: '{metric}' cannot score this data ({data.classes.shape[0]} classes): "
                f"{exc}. Use a metric for this task, e.g. accuracy, f1_macro, roc_auc_ovr"
            ) from None

"""Another model labels what it is confident about; a fallback labeler gets the rest."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from alcli.classes import SKIPPED, codes_by_text, label_text
from alcli.data import read_table, refuse_unlabeled
from alcli.errors import DataError, agree, plural, preview
from alcli.labelers.base import Answers, LabelCost, Labeler, LabelRequest
from alcli.models import ModelConfig, blas_threads, build_model, describe_model
from alcli.schema import Section, resolve_path
from alcli.seeding import LABELING_MODEL


class ModelLabelerConfig(Section):
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
    fallback: LabelerConfig | None = Field(  # type: ignore[valid-type]  # noqa: F821
        None,
        description="Who labels the records the model is not confident about (a labeler "
        "section); without one they are skipped.",
    )
    cost: LabelCost = Field(default_factory=LabelCost, description="What each model answer costs.")

    _resolve = field_validator("path", "train_path")(resolve_path)

    @model_validator(mode="after")
    def _one_model(self) -> ModelLabelerConfig:
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


class ModelLabeler(Labeler):
    """Labels with a trained classifier, keeping an answer only where the classifier's
    probability for it is at least ``threshold``.

    The records it is not sure about go to ``fallback`` (another labeler, which sees only
    them as open), so chains such as model -> file (people label the rest) work. With no
    fallback they are SKIPPED: they leave the batch unlabeled (credited to "model", at its
    per-label price). The answers' ``truth`` is the fallback's (a noisy oracle's), and
    UNANSWERED where the model answered: it never reads the data's target.

    The classifier is either loaded from ``path`` (only with ``trust: true``: loading a
    pickle runs code) or built from ``model`` and fit on ``train_path``, once, when the
    labeler is built.

    Parameters
    ----------
    cfg : ModelLabelerConfig
    context : LabelerContext
        ``classes`` (n_classes,), ``data_cfg`` (how ``train_path`` is read), ``seed`` (the
        trained model's random_state), and for the fallback whatever it needs.

    Attributes
    ----------
    estimator_ : fitted classifier with ``predict_proba`` and ``classes_``
    codes_ : ndarray of int64, shape (n_model_classes,)
        The class code of each column of ``estimator_.predict_proba``.
    fallback_ : Labeler or None

    Raises
    ------
    DataError
        When built: the model file is missing or unreadable, or is not a classifier with
        predict_proba; the model's or the training file's classes are not the data's.
        When labeling: the model expects other features than the data's (the context
        holds no features, so this waits for the first request).
    """

    Config = ModelLabelerConfig
    kind = "model"
    may_skip = True

    def __init__(self, cfg: Any, context: Any):
        super().__init__(cfg)
        self.classes = np.asarray(context.classes)
        if cfg.path is not None:
            self.source_ = f"labeler.path ({cfg.path})"
            self.estimator_ = load_model(cfg.path, cfg.trust)
            self.codes_ = class_codes(self.estimator_.classes_, self.classes, self.source_)
        else:
            self.source_ = f"the model trained on labeler.train_path ({cfg.train_path})"
            self.estimator_ = train_model(cfg.model, cfg.train_path, context)
            self.codes_ = np.asarray(self.estimator_.classes_, dtype=np.int64)  # fit on codes
        self.fallback_ = None if cfg.fallback is None else context.build(cfg.fallback, context)
        # A chain waits for people and reads the truth when its fallback does.
        self.may_wait = bool(self.fallback_ and self.fallback_.may_wait)
        self.needs_truth = bool(self.fallback_ and self.fallback_.needs_truth)

    def label(self, request: LabelRequest) -> Answers:
        answers = Answers.start(request)
        todo = request.open
        sure = np.zeros(todo.shape[0], dtype=bool)
        if todo.size:
            proba = self.predict_proba(request, todo)
            best = proba.argmax(axis=1)
            sure = proba[np.arange(todo.shape[0]), best] >= self.cfg.threshold
            self.answered(answers, todo[sure], self.codes_[best[sure]], request.classes)
        rest = todo[~sure]
        if rest.size == 0:
            return answers
        if self.fallback_ is None:
            # Nobody else to ask: the model abstains (a skip costs the per-label price).
            self.answered(answers, rest, np.full(rest.shape[0], SKIPPED), request.classes)
            return answers
        passed_on = self.fallback_.label(dataclasses.replace(request, answers=answers.codes.copy()))
        return answers.merged(passed_on)

    def predict_proba(self, request: LabelRequest, positions: np.ndarray) -> np.ndarray:
        """The model's probabilities for batch ``positions``, shape (k, n_model_classes)."""
        if request.features is None:
            raise ValueError("the model labeler needs request.features (the pool's features)")
        X = np.asarray(request.features[request.indices[positions]])
        expected = getattr(self.estimator_, "n_features_in_", X.shape[1])
        if expected != X.shape[1]:
            raise DataError(
                f"labeler: {self.source_} expects {expected} features, but the data has "
                f"{X.shape[1]}; the labeling model must use the data's feature columns"
            )
        threads = self.cfg.model.blas_threads if self.cfg.model is not None else 1
        try:
            with blas_threads(threads):
                proba = np.asarray(self.estimator_.predict_proba(X), dtype=float)
        except (ValueError, TypeError) as exc:
            raise DataError(
                f"labeler: {self.source_} cannot predict the data's records: {exc}"
            ) from None
        if proba.shape != (X.shape[0], self.codes_.shape[0]):
            raise DataError(
                f"labeler: {self.source_} returned probabilities of shape {proba.shape}; "
                f"expected ({X.shape[0]}, {self.codes_.shape[0]}), one column per class in "
                "its classes_"
            )
        return proba


def load_model(path: Path, trust: bool) -> Any:
    """The classifier saved at ``path`` (joblib or pickle).

    Raises
    ------
    DataError
        The file is missing or cannot be loaded, or holds no fitted classifier with
        ``predict_proba``.
    """
    if not trust:  # the config refuses this; a labeler built by hand must not load either
        raise DataError(
            f"labeler.path: loading a model file runs code it contains; set labeler.trust: "
            f"true if you trust {path}, or use labeler.model with labeler.train_path"
        )
    if not path.is_file():
        raise DataError(
            f"labeler.path: {path}: file not found; give the path of a saved scikit-learn "
            "model (joblib.dump(model, path)), relative to the config file"
        )
    import joblib

    try:
        estimator = joblib.load(path)
    except Exception as exc:  # unpickling can fail in any way the file's code chooses
        raise DataError(
            f"labeler.path: {path} cannot be loaded as a joblib/pickle file "
            f"({type(exc).__name__}: {exc}); save the model with joblib.dump(model, path)"
        ) from None
    missing = [name for name in ("predict_proba", "classes_") if not hasattr(estimator, name)]
    if missing:
        raise DataError(
            f"labeler.path: {path} holds a {type(estimator).__name__} without "
            f"{' or '.join(missing)}; the model labeler needs a fitted classifier that gives "
            "probabilities (e.g. a fitted LogisticRegression)"
        )
    return estimator


def train_model(model_cfg: Any, train_path: Path, context: Any) -> Any:
    """``model_cfg``'s estimator fit on the labeled file ``train_path``, read like the data.

    Its labels are encoded as class codes, so the fitted model's ``classes_`` are codes.

    Raises
    ------
    DataError
        The file cannot be read, has unlabeled records or labels that are not classes of
        the data, or the model cannot be fit on it.
    """
    table = read_table(train_path, context.data_cfg)
    key = f"labeler.train_path: {train_path}"
    refuse_unlabeled(table, key, "the labeling model's training file", context.data_cfg.target)
    y = class_codes(table.labels, np.asarray(context.classes), key, what="labels")
    if np.unique(y).shape[0] < 2:
        raise DataError(
            f"{key}: it holds only the class {context.classes[y[0]]}; a labeling model needs "
            "records of at least 2 classes"
        )
    estimator = build_model(model_cfg, context.seed, 0, LABELING_MODEL)
    try:
        with blas_threads(model_cfg.blas_threads):
            return estimator.fit(table.X, y)
    except (ValueError, TypeError) as exc:
        raise DataError(f"{key}: {describe_model(estimator)} cannot be fit on it: {exc}") from None


def class_codes(
    labels: Any, classes: np.ndarray, source: str, what: str = "classes_"
) -> np.ndarray:
    """The class code of each of ``labels`` (as in the data: 3, "3" and 3.0 match 3).

    Returns
    -------
    ndarray of int64, shape (len(labels),)

    Raises
    ------
    DataError
        Naming the labels that are not classes of the data, and the classes.
    """
    code_of = codes_by_text(classes)
    keys = [label_text(label) for label in np.asarray(labels).tolist()]
    unknown = sorted({key for key in keys if key not in code_of})
    if unknown:
        allowed = ", ".join(str(label) for label in classes.tolist())
        raise DataError(
            f"{source}: {plural(len(unknown), 'label')} in its {what} "
            f"{agree(len(unknown), 'is', 'are')} not a class of the data: {preview(unknown)}; "
            f"the data's classes are {allowed}. Train the labeling model on the data's classes"
        )
    return np.array([code_of[key] for key in keys], dtype=np.int64)

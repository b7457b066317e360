"""The simulated annotator who makes mistakes: the data's target, sometimes wrongly, seeded."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from alcli.classes import UNANSWERED, UNLABELED, codes_by_text, label_text
from alcli.errors import DataError, agree, plural, preview
from alcli.labelers.base import Answers, LabelCost, Labeler, LabelRequest
from alcli.schema import Section


class NoisyOracleConfig(Section):
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
    def _rate_or_confusion(self) -> NoisyOracleConfig:
        # flip_rate's default is always there; only a flip_rate the user chose conflicts.
        default = type(self).model_fields["flip_rate"].default
        if self.confusion is not None and self.flip_rate != default:
            raise PydanticCustomError(
                "noisy_oracle_rate",
                "labeler.flip_rate: give either flip_rate or confusion, not both (confusion sets "
                "every mistake itself); remove flip_rate",
            )
        return self


class NoisyOracle(Labeler):
    """Answers with the ground truth, but wrong with probability ``flip_rate`` (a wrong class
    drawn uniformly among the others), or as the ``confusion`` matrix says.

    Every draw comes from ``request.rng``, so a run's mistakes are the same when it is run
    again or resumed. Answers carry ``truth`` (the true class code of every position this
    labeler answered, UNANSWERED elsewhere), so a run can record both labels.

    Parameters
    ----------
    cfg : NoisyOracleConfig
        ``flip_rate``, or ``confusion`` ({true label: {given label: probability}}; what a row
        leaves of 1 stays on the true class; classes without a row are answered right).
    context : LabelerContext
        ``truth`` (n_pool,) class codes and ``classes`` (n_classes,).

    Raises
    ------
    DataError
        When built: the confusion matrix names a label that is not a class, or a pool record
        has no target to reveal.
    """

    Config = NoisyOracleConfig
    kind = "noisy_oracle"
    needs_truth = True
    records_truth = True

    def __init__(self, cfg: Any, context: Any):
        super().__init__(cfg)
        self._truth = context.truth
        missing = np.flatnonzero(np.asarray(context.truth) == UNLABELED)
        if missing.size:
            # The engine checks this before a run too; a labeler built any other way would
            # answer UNANSWERED there, and the run would wait for nobody.
            raise DataError(
                f"labeler: the {self.kind} labeler reveals the target the data holds, but "
                f"{plural(missing.size, 'pool record')} {agree(missing.size, 'lacks', 'lack')} "
                f"one (pool positions {preview(missing)}); fill the target for every record, or "
                "use a labeler for people (kind: file or terminal)"
            )
        # (n_classes, n_classes): row = true class, column = given class; None = flip_rate.
        self._matrix = (
            None if cfg.confusion is None else confusion_matrix(cfg.confusion, context.classes)
        )

    def label(self, request: LabelRequest) -> Answers:
        answers = Answers.start(request)
        todo = request.open
        truth = np.asarray(self._truth[request.indices[todo]], dtype=np.int64)
        n_classes = request.classes.shape[0]
        if self._matrix is None:
            given = flip(truth, self.cfg.flip_rate, n_classes, request.rng)
        else:
            given = draw_confused(truth, self._matrix, request.rng)
        self.answered(answers, todo, given, request.classes)
        answers.truth = np.full(request.indices.shape[0], UNANSWERED, dtype=np.int64)
        answers.truth[todo] = truth
        return answers


def flip(truth: np.ndarray, rate: float, n_classes: int, rng: np.random.Generator) -> np.ndarray:
    """``truth`` with each code replaced, with probability ``rate``, by another class drawn
    uniformly, shape (k,)."""
    flipped = rng.random(truth.shape[0]) < rate
    # An offset in 1..n_classes-1 (mod n_classes) never lands on the true class.
    offsets = rng.integers(1, n_classes, size=truth.shape[0])
    return np.where(flipped, (truth + offsets) % n_classes, truth)


def draw_confused(truth: np.ndarray, matrix: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One answer per true code, drawn from its row of ``matrix`` (n_classes, n_classes),
    shape (k,)."""
    given = truth.copy()
    # Class by class, in code order: each class draws from its own row.
    for code in np.unique(truth).tolist():
        at = np.flatnonzero(truth == code)
        given[at] = rng.choice(matrix.shape[1], size=at.shape[0], p=matrix[code])
    return given


def confusion_matrix(confusion: dict, classes: np.ndarray) -> np.ndarray:
    """The config's ``confusion`` as a row-stochastic matrix over class codes.

    Parameters
    ----------
    confusion : dict
        {true label: {given label: probability}}, labels as in the data (a YAML key 3 and a
        class 3 or "3" match).
    classes : ndarray of shape (n_classes,)

    Returns
    -------
    ndarray of float, shape (n_classes, n_classes)
        Rows sum to 1; a row's leftover mass is on its diagonal.

    Raises
    ------
    DataError
        Naming the key whose label is not a class, the classes and the fix.
    """
    code_of = codes_by_text(classes)
    allowed = ", ".join(str(label) for label in classes.tolist())
    matrix = np.eye(classes.shape[0])
    seen: dict[int, Any] = {}
    for true_label, row in confusion.items():
        keys = [(f"labeler.confusion.{true_label}", true_label)]
        keys += [(f"labeler.confusion.{true_label}.{given}", given) for given in row]
        for key, label in keys:
            if label_text(label) not in code_of:
                raise DataError(
                    f"{key}: '{label}' is not a class of the data; the classes are {allowed}. "
                    "Name classes as they are in the data's target column"
                )
        true_code = code_of[label_text(true_label)]
        if true_code in seen:
            raise DataError(
                f"labeler.confusion.{true_label}: class {classes[true_code]} has two rows "
                f"('{seen[true_code]}' and '{true_label}'); keep one"
            )
        seen[true_code] = true_label
        matrix[true_code] = 0.0
        for given, probability in row.items():
            matrix[true_code, code_of[label_text(given)]] += probability
        total = matrix[true_code].sum()
        if total > 1 + 1e-9:
            # The config checks this too; two keys naming the same class ("3" and 3) can
            # still add up past 1.
            raise DataError(
                f"labeler.confusion.{true_label}: the row sums to {total:.4g}; it gives the chance "
                "of each answer for that class, so it sums to at most 1. Lower its values"
            )
        matrix[true_code, true_code] += max(0.0, 1.0 - total)
    return matrix

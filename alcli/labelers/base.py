"""The labeler interface: a batch to label goes in, answers (possibly not all yet) come out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pydantic import Field, NonNegativeFloat

from alcli.classes import UNANSWERED, codes_by_text, label_text
from alcli.schema import Section


class LabelCost(Section):
    """What an answer costs: a price per label, overridden for some classes."""

    per_label: NonNegativeFloat = Field(
        0.0, description="The price of one answer (a skip costs it too: the time was spent)."
    )
    per_class: dict[str | int, NonNegativeFloat] = Field(
        default_factory=dict,
        description="Prices of answers of some classes, by class label, e.g. {rare: 5.0}.",
    )


@dataclass(frozen=True)
class LabelRequest:
    """One batch to label, as a labeler sees it.

    Attributes
    ----------
    loop : int
    indices : ndarray of int64, shape (n,)
        Pool indices of the batch, in selection order.
    ids : ndarray of shape (n,)
        Their record ids.
    classes : ndarray of shape (n_classes,)
        The class labels; an answer is an index into it (a class code).
    answers : ndarray of int64, shape (n,)
        What is already answered (class code or SKIPPED); UNANSWERED where nothing is yet.
        A labeler fills only UNANSWERED places.
    predictions : ndarray of int64, shape (n,) or None
        The current model's predicted class code per record, for people to see (None in
        loop 0, with no model yet, and for labelers that show no one anything).
    confidence : ndarray of float, shape (n,) or None
        Its probability for that class (None when the model gives no probabilities).
    records : RecordSource or None
        The records' fields as they are in the data, for people to read.
    features : ndarray of shape (n_pool, n_features)
        The pool's features (for a labeling model).
    pending_dir : Path or None
        Where a labeler that hands the batch out writes it (RUN_DIR/pending/loop-NNNN).
    rng : numpy.random.Generator
        Derived from the run seed and the loop (a noisy oracle's mistakes).
    """

    loop: int
    indices: np.ndarray
    ids: np.ndarray
    classes: np.ndarray
    answers: np.ndarray
    predictions: np.ndarray | None = None
    confidence: np.ndarray | None = None
    records: Any = None
    features: Any = None
    pending_dir: Path | None = None
    rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(0))

    @property
    def run_dir(self) -> Path | None:
        """The run the batch belongs to (``pending_dir`` is RUN_DIR/pending/loop-NNNN)."""
        if self.pending_dir is None:
            return None
        folder = Path(self.pending_dir)
        return folder.parent.parent if folder.parent.name == "pending" else folder

    @property
    def open(self) -> np.ndarray:
        """Positions in the batch still unanswered, shape (k,)."""
        return np.flatnonzero(self.answers == UNANSWERED)


@dataclass
class Answers:
    """A labeler's answers to a request, aligned with its ``indices``.

    Attributes
    ----------
    codes : ndarray of int64, shape (n,)
        A class code, SKIPPED, or UNANSWERED (still with a person: the run waits).
    labeler : ndarray of object, shape (n,)
        Who answered each record ("" where unanswered): a labeler kind, so a chain
        (model, then a person) shows who labeled what.
    cost : ndarray of float, shape (n,)
        What each answer cost (0 where unanswered).
    truth : ndarray of int64, shape (n,) or None
        A simulated labeler that makes mistakes: the true class behind each answer.
    message : str
        For a person, when answers are missing: exactly what to do next.
    """

    codes: np.ndarray
    labeler: np.ndarray
    cost: np.ndarray
    truth: np.ndarray | None = None
    message: str = ""

    @classmethod
    def start(cls, request: LabelRequest) -> Answers:
        """The answers the request already holds; nothing new yet."""
        answers = cls.unanswered(request.indices.shape[0])
        answers.codes[:] = request.answers
        return answers

    @classmethod
    def unanswered(cls, n: int) -> Answers:
        """``n`` records nobody has answered yet."""
        return cls(
            codes=np.full(n, UNANSWERED, dtype=np.int64),
            labeler=np.full(n, "", dtype=object),
            cost=np.zeros(n),
        )

    @property
    def complete(self) -> bool:
        return not bool((self.codes == UNANSWERED).any())

    def merged(self, fresh: Answers) -> Answers:
        """These answers with ``fresh`` ones filled in where these have none."""
        new = (self.codes == UNANSWERED) & (fresh.codes != UNANSWERED)
        codes, labeler, cost = self.codes.copy(), self.labeler.copy(), self.cost.copy()
        codes[new], labeler[new], cost[new] = fresh.codes[new], fresh.labeler[new], fresh.cost[new]
        truth = None
        if self.truth is not None or fresh.truth is not None:
            truth = self.truth.copy() if self.truth is not None else codes * 0 + UNANSWERED
            if fresh.truth is not None:
                truth[new] = fresh.truth[new]
        return Answers(codes, labeler, cost, truth, fresh.message)


def prices(cost: Any, codes: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """What answers ``codes`` cost under a ``cost`` config section, shape (n,): the class's
    price, or the per-label price (which a skip costs too: the time was spent)."""
    if cost is None:
        return np.zeros(codes.shape[0])
    out = np.full(codes.shape[0], float(cost.per_label))
    if cost.per_class:
        code_of = codes_by_text(classes)
        # A price may name a class that does not exist yet (allow_new_classes).
        by_code = {
            code_of[text]: price
            for label, price in cost.per_class.items()
            if (text := label_text(label)) in code_of
        }
        for k, code in enumerate(codes.tolist()):
            if code in by_code:
                out[k] = float(by_code[code])
    return out


class Labeler(ABC):
    """Answers the LABEL step. Subclasses set ``kind``; the constructor stores its config
    (``cfg``, the labeler's config section) and what it needs from the run."""

    kind: ClassVar[str]
    #: The labeler's config section (a Section with a ``kind`` literal and a ``cost``).
    Config: ClassVar[type[Section]]
    #: Whether the labeler reveals the data's own target (it then needs one for every record).
    needs_truth: ClassVar[bool] = False
    #: Whether it may leave answers for later (a person): the run then waits for them.
    #: A person also sees the model's guesses, and answers files given to `--labels`.
    may_wait: ClassVar[bool] = False
    #: Whether its answers may be skips (people abstain; a model unsure of a record).
    may_skip: ClassVar[bool] = False
    #: Whether it asks a person at the terminal during the run.
    needs_tty: ClassVar[bool] = False
    #: Whether it records the true label behind each answer (a simulated annotator's noise).
    records_truth: ClassVar[bool] = False

    def __init__(self, cfg: Any):
        self.cfg = cfg

    @abstractmethod
    def label(self, request: LabelRequest) -> Answers:
        """Answer what ``request`` leaves open (or leave it open for later)."""

    def prices(self, codes: np.ndarray, classes: np.ndarray) -> np.ndarray:
        """What this labeler's answers ``codes`` cost, shape (n,)."""
        return prices(getattr(self.cfg, "cost", None), codes, classes)

    def answered(
        self, answers: Answers, positions: np.ndarray, codes: np.ndarray, classes: np.ndarray
    ) -> None:
        """Record this labeler's ``codes`` for batch ``positions`` in ``answers``."""
        answers.codes[positions] = codes
        answers.labeler[positions] = self.kind
        answers.cost[positions] = self.prices(codes, classes)

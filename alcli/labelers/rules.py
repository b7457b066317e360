"""Labeling functions: each votes a class for a record or abstains; the votes are combined per
record, and the records they leave open (no clear winner) go to a fallback labeler."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, NoReturn

import numpy as np
from pydantic import (
    Field,
    PositiveInt,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from alcli.atomic import write_atomic
from alcli.classes import UNLABELED, codes_by_text, label_text
from alcli.data.numbers import parse_numbers
from alcli.errors import DataError
from alcli.labelers.base import Answers, LabelCost, Labeler, LabelRequest
from alcli.models.user_code import import_from, lives_in, nearest_path
from alcli.rundir.tables import VOTES_FILE, read_votes, votes_csv
from alcli.schema import Section, resolve_path

#: What a labeling function returns to abstain (its module may also define an ABSTAIN of its
#: own, e.g. ``ABSTAIN = -1``).
ABSTAIN = None
#: An abstention in a votes matrix (class codes are 0, 1, ...).
NO_VOTE = -1
#: Why the functions left a record to the fallback (votes.csv's ``reason``).
NO_VOTES, TOO_FEW, TIE = "no votes", "too few votes", "tie"
#: Column kinds whose cells a function gets as text, never as numbers.
_TEXT_KINDS = ("text", "categorical", "date")


class RulesLabelerConfig(Section):
    kind: Literal["rules"] = Field(
        description="Labeling functions vote a class per record; the votes are combined and "
        "the records without a clear winner go to the fallback labeler."
    )
    functions: list[str] = Field(
        min_length=1,
        description="Import paths of the labeling functions (mymodule:mentions_refund), each "
        "called with a record's fields (column name -> value) and returning a class or None "
        "to abstain; a module in the config file's folder is found there.",
    )
    combine: Literal["majority", "weighted"] = Field(
        "majority",
        description="majority: the class most functions voted (a tie abstains); weighted: "
        "each vote weighs by how often its function agrees with the majority in the batch.",
    )
    min_votes: PositiveInt = Field(
        1, description="A record with fewer votes (functions that did not abstain) abstains."
    )
    fallback: LabelerConfig = Field(  # type: ignore[valid-type]  # noqa: F821
        description="Who labels the records the functions abstain or tie on (a labeler "
        "section: {kind: oracle} in a simulation, {kind: file} for people)."
    )
    code_dir: Path | None = Field(
        None,
        description="A folder the functions' modules are imported from before installed "
        "packages; by default the config file's folder when a module is there. Recorded, so a "
        "resumed run imports the same code.",
    )
    cost: LabelCost = Field(
        default_factory=LabelCost, description="What each answer of the functions costs."
    )

    _resolve = field_validator("code_dir")(resolve_path)

    @model_validator(mode="before")
    @classmethod
    def _own_folder(cls, raw: Any, info: ValidationInfo) -> Any:
        context = info.context or {}
        base = context.get("base_dir")
        # As model.code_dir: recorded only when the config's folder holds a module named.
        if (
            isinstance(raw, dict)
            and raw.get("code_dir") is None
            and base is not None
            and not context.get("checked")
            and any(
                isinstance(path, str) and lives_in(Path(base), path)
                for path in raw.get("functions") or ()
            )
        ):
            raw = {**raw, "code_dir": Path(base).resolve()}
        return raw

    @field_validator("functions")
    @classmethod
    def _listed_once(cls, paths: list[str]) -> list[str]:
        twice = sorted({path for path in paths if paths.count(path) > 1})
        if twice:
            raise PydanticCustomError(
                "function_twice",
                "{paths} listed more than once; a function votes once per record, so list "
                "each once",
                {"paths": ", ".join(twice)},
            )
        return paths

    @model_validator(mode="after")
    def _importable(self) -> RulesLabelerConfig:
        for k, path in enumerate(self.functions):
            problem = function_problem(path, self.code_dir)
            if problem:
                raise ValidationError.from_exception_data(
                    "RulesLabelerConfig",
                    [
                        InitErrorDetails(
                            type=PydanticCustomError("function_import", problem),
                            loc=("functions", k),
                            input=path,
                        )
                    ],
                )
        return self


def function_problem(path: str, code_dir: Path | None) -> str | None:
    """Why the labeling function ``path`` cannot be used (None when it can)."""
    try:
        function = import_from(path, code_dir)
    except ImportError as exc:
        near = nearest_path(path, code_dir)
        hint = f" (did you mean '{near}'?)" if near and near != path else ""
        return (
            f"cannot import the labeling function '{path}': {exc}{hint}. Give module:function, "
            "its module in the config file's folder (or labeler.code_dir) or installed"
        )
    except Exception as exc:  # importing a user's module runs its code
        return (
            f"importing the labeling function '{path}' failed: {type(exc).__name__}: {exc}; "
            "fix its module"
        )
    if not callable(function):
        return f"'{path}' is not a function (it cannot be called); give module:function"
    return None


class RulesLabeler(Labeler):
    """Labels with labeling functions, combined per record.

    Each function is called with one record (a dict of its fields as the data holds them: a
    text column's text, a category or a date as written, numbers as numbers; the target and
    the id column left out) and returns a class of the run (compared as text: 3, "3" and 3.0
    are class 3) or None (its module's ``ABSTAIN`` too) to abstain. ``majority`` labels a
    record with the class most functions voted; ``weighted`` weighs each function's vote by
    its agreement with the majority over the batch's votes (log-odds of its smoothed
    agreement rate, never negative). A record with fewer than ``min_votes`` votes, or a tie
    for the most, goes to ``fallback``, which sees only those as open.

    The votes are written to ``votes.csv`` in the loop's pending folder (the loop's folder
    takes it in when the loop is saved), with the data's true label where it holds one, so
    that the report can give each function's coverage, conflicts and accuracy.

    Parameters
    ----------
    cfg : RulesLabelerConfig
    context : LabelerContext
        ``truth`` (recorded beside the votes, never used to label), and for the fallback
        whatever it needs.

    Attributes
    ----------
    functions_ : list of callable, one per ``cfg.functions``
    fallback_ : Labeler

    Raises
    ------
    DataError
        When built: a function cannot be imported. When labeling: a function raises, or
        returns something that is not a class of the run (naming the function and record).
    """

    Config = RulesLabelerConfig
    kind = "rules"

    def __init__(self, cfg: Any, context: Any):
        super().__init__(cfg)
        self.truth = context.truth
        self.functions_ = []
        for path in cfg.functions:
            problem = function_problem(path, cfg.code_dir)
            if problem:
                raise DataError(f"labeler.functions: {problem}")
            self.functions_.append(import_from(path, cfg.code_dir))
        self.fallback_ = context.build(cfg.fallback, context)
        # A chain waits for people and reads the truth when its fallback does.
        self.may_wait = self.fallback_.may_wait
        self.needs_truth = self.fallback_.needs_truth

    def label(self, request: LabelRequest) -> Answers:
        answers = Answers.start(request)
        todo = request.open
        if todo.size == 0:
            return answers
        n_classes = request.classes.shape[0]
        votes = self.votes(request, todo)
        earlier = self._earlier_rows(request)
        weights = None
        if self.cfg.combine == "weighted":
            known = _votes_matrix(earlier, self.cfg.functions, request.classes)
            evidence = votes if known is None else np.vstack([known, votes])
            weights = agreement_weights(evidence, n_classes, self.cfg.min_votes)
        codes, reasons = combine_votes(votes, n_classes, self.cfg.min_votes, weights)
        self._write_votes(request, todo, votes, codes, reasons, earlier)
        sure = codes != NO_VOTE
        self.answered(answers, todo[sure], codes[sure], request.classes)
        if sure.all():
            return answers
        passed_on = self.fallback_.label(dataclasses.replace(request, answers=answers.codes.copy()))
        return answers.merged(passed_on)

    def votes(self, request: LabelRequest, positions: np.ndarray) -> np.ndarray:
        """Every function's vote on batch ``positions``, shape (k, n_functions): a class
        code, or NO_VOTE where it abstained."""
        code_of = codes_by_text(request.classes)
        records = record_fields(request, positions)
        ids = request.ids[positions].tolist()
        votes = np.full((positions.shape[0], len(self.functions_)), NO_VOTE, dtype=np.int64)
        for j, (path, function) in enumerate(zip(self.cfg.functions, self.functions_, strict=True)):
            marker = _abstain_marker(function)
            for row, (record, record_id) in enumerate(zip(records, ids, strict=True)):
                try:
                    value = function(dict(record))  # a copy: one function's edits stay its own
                except Exception as exc:  # a user's function may fail in any way
                    _refuse_run(
                        request,
                        f"labeler.functions: {path} raised on record {record_id}: "
                        f"{type(exc).__name__}: {exc}; fix the function",
                    )
                if value is None or (marker is not None and _same(value, marker)):
                    continue
                code = code_of.get(label_text(value)) if _is_label(value) else None
                if code is None:
                    allowed = ", ".join(str(c) for c in request.classes.tolist())
                    _refuse_run(
                        request,
                        f"labeler.functions: {path} returned {value!r} for record {record_id}, "
                        f"which is not a class of the run; return one of {allowed}, or None "
                        "to abstain",
                    )
                votes[row, j] = code
        return votes

    def _earlier_rows(self, request: LabelRequest) -> list[dict[str, str]]:
        """This loop's votes from before the batch waited for people (its other records)."""
        folder = request.pending_dir
        if folder is None or not (folder / "batch.npz").exists():
            return []  # a fresh batch: a votes.csv there is a killed attempt's, redone now
        path = folder / VOTES_FILE
        if not path.exists():
            return []
        functions, rows = read_votes(path)
        if functions != list(self.cfg.functions):
            return []
        asked = set(request.ids[request.open].astype(str).tolist())
        return [row for row in rows if row["id"] not in asked]

    def _write_votes(
        self,
        request: LabelRequest,
        positions: np.ndarray,
        votes: np.ndarray,
        codes: np.ndarray,
        reasons: list[str],
        earlier: list[dict[str, str]],
    ) -> None:
        if request.pending_dir is None:
            return  # a request built by hand: no run to record the votes in
        classes = request.classes
        truth = self.truth[request.indices[positions]]
        rows = {row["id"]: list(row.values()) for row in earlier}
        for k, record_id in enumerate(request.ids[positions].tolist()):
            rows[str(record_id)] = [
                record_id,
                "" if codes[k] == NO_VOTE else classes[codes[k]],
                reasons[k],
                "" if truth[k] == UNLABELED else classes[truth[k]],
                *("" if v == NO_VOTE else classes[v] for v in votes[k].tolist()),
            ]
        # In batch order, however many times the batch waited for people in between.
        ordered = [rows[key] for key in request.ids.astype(str).tolist() if key in rows]
        request.pending_dir.mkdir(parents=True, exist_ok=True)
        # Not fsync'd: the votes can be computed again from the same records.
        text = votes_csv(self.cfg.functions, ordered)
        write_atomic(request.pending_dir / VOTES_FILE, text, sync=False)


def combine_votes(
    votes: np.ndarray, n_classes: int, min_votes: int = 1, weights: np.ndarray | None = None
) -> tuple[np.ndarray, list[str]]:
    """Each record's label from its functions' votes.

    Parameters
    ----------
    votes : ndarray of int64, shape (n_records, n_functions)
        Class codes, NO_VOTE where a function abstained.
    n_classes : int
    min_votes : int
        Fewer votes than this: the record is left open.
    weights : ndarray of float, shape (n_functions,) or None
        Each function's vote weight (None: one each, a majority vote).

    Returns
    -------
    codes : ndarray of int64, shape (n_records,)
        The winning class, NO_VOTE where there is none.
    reasons : list of str, length n_records
        "" where a class won; else NO_VOTES, TOO_FEW or TIE (the most weight shared, or
        none: voters whose weight is 0).
    """
    n, m = votes.shape
    weights = np.ones(m) if weights is None else np.asarray(weights, dtype=float)
    voted = votes != NO_VOTE
    rows, cols = np.nonzero(voted)
    scores = np.zeros((n, n_classes))
    np.add.at(scores, (rows, votes[rows, cols]), weights[cols])
    count = voted.sum(axis=1)
    best = scores.max(axis=1, initial=0.0)
    leaders = (np.abs(scores - best[:, None]) <= 1e-9 * np.maximum(best, 1)[:, None]) & (scores > 0)
    won = (leaders.sum(axis=1) == 1) & (count >= min_votes)
    codes = np.where(won, scores.argmax(axis=1), NO_VOTE).astype(np.int64)
    reasons = [
        "" if w else NO_VOTES if c == 0 else TOO_FEW if c < min_votes else TIE
        for w, c in zip(won.tolist(), count.tolist(), strict=True)
    ]
    return codes, reasons


def agreement_weights(votes: np.ndarray, n_classes: int, min_votes: int = 1) -> np.ndarray:
    """Each function's weight from its agreement with the majority vote, shape (n_functions,).

    A function that agrees on a share ``a`` of the records the majority decides (smoothed:
    (agreed + 1) / (voted + 2)) weighs ``log(a (K - 1) / (1 - a))`` for K classes: 0 for a
    function no better than chance (weights below are 0 too), more the more it agrees.
    """
    majority, _ = combine_votes(votes, n_classes, min_votes)
    decided = (majority != NO_VOTE)[:, None]
    agreed = ((votes == majority[:, None]) & decided).sum(axis=0)
    voted = ((votes != NO_VOTE) & decided).sum(axis=0)
    share = (agreed + 1.0) / (voted + 2.0)
    return np.maximum(np.log(share * max(n_classes - 1, 1) / (1.0 - share)), 0.0)


def record_fields(request: LabelRequest, positions: np.ndarray) -> list[dict[str, Any]]:
    """The records at batch ``positions`` as a labeling function gets them: column name ->
    value (text, category and date columns as text, other cells as numbers where they read
    as one, None where empty), without the target and the id column."""
    indices = request.indices[positions]
    source = request.records
    if source is None:  # a request built by hand: the features, by column position
        X = np.asarray(request.features[indices], dtype=float)
        return [{f"x{j}": float(v) for j, v in enumerate(row)} for row in X]
    header, rows = source.fields(indices)
    hidden = set(source.own_columns)
    kinds = source.data.column_kinds
    keep = [
        (at, name, kinds.get(name) in _TEXT_KINDS)
        for at, name in enumerate(header)
        if name not in hidden
    ]
    return [{name: _cell(row[at], as_text) for at, name, as_text in keep} for row in rows]


def _cell(text: str, as_text: bool) -> Any:
    if as_text:
        return text
    if text.strip() == "":
        return None
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(parse_numbers([text])[0])
    except ValueError:  # a cell of text among numbers stays text
        return text


def _votes_matrix(rows: list[dict[str, str]], functions: list[str], classes: np.ndarray):
    """Votes read back from votes.csv rows, shape (n_rows, n_functions) (None: no rows)."""
    if not rows:
        return None
    code_of = codes_by_text(classes)
    return np.array(
        [[code_of.get(row[f], NO_VOTE) if row[f] else NO_VOTE for f in functions] for row in rows],
        dtype=np.int64,
    )


def _abstain_marker(function: Callable) -> Any:
    """The ``ABSTAIN`` of the function's module, if it defines one."""
    return getattr(sys.modules.get(getattr(function, "__module__", "") or ""), "ABSTAIN", None)


def _same(value: Any, marker: Any) -> bool:
    return _is_label(value) and label_text(value) == label_text(marker)


def _is_label(value: Any) -> bool:
    """Whether ``value`` can name a class: a string or a number (a bool cannot)."""
    return isinstance(value, str | int | float | np.integer | np.floating) and not isinstance(
        value, bool | np.bool_
    )


def _refuse_run(request: LabelRequest, problem: str) -> NoReturn:
    """A function's fault: the run stops after its last complete loop, to resume once fixed."""
    if request.run_dir is not None:
        problem += f", then `alcli resume {request.run_dir}` (the loops so far are kept)"
    raise DataError(problem)

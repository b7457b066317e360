"""Warnings raised inside a run's steps (scikit-learn's ConvergenceWarning, numpy's overflow,
...): recorded around each step instead of printed, counted by step and kind, and journaled as
one ``warnings`` event per loop that had any. The words a person reads (which step, how often,
the usual fix) are the report's: :func:`alcli.reporting.warning_summary`."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any

from alcli.models import final_estimator

#: A kind's first message is kept to this many characters.
MESSAGE_CHARS = 240


@dataclass
class Source:
    """Who worked in the step: a model's class name and the config key of its section (the
    summary's fix names it). A step may name it once the work is done (a fitted model)."""

    name: str = ""
    key: str = ""


class Caught:
    """The warnings of one loop so far (or of the run's set-up), by step and kind.

    The warnings filters stay the user's: an ``error`` filter still raises, ``ignore`` still
    ignores; only the printing is replaced by a record. Within one step a warning repeated from
    the same line counts once (Python's ``default`` action), so ``count`` is the number of
    distinct warnings a step raised, and the cost is one ``catch_warnings`` per step.
    """

    def __init__(self) -> None:
        self._kinds: dict[tuple[str, str, str, str], dict[str, Any]] = {}

    @contextmanager
    def step(self, step: str, name: str = "", key: str = "") -> Iterator[Source]:
        """Record the warnings the block raises, as ``step``'s; yields its :class:`Source`."""
        source = Source(name, key)
        with warnings.catch_warnings(record=True) as seen:
            yield source
        for caught in seen:
            category = caught.category.__name__
            kind = (step, category, source.name, source.key)
            entry = self._kinds.get(kind)
            if entry is None:
                self._kinds[kind] = {
                    "step": step,
                    "category": category,
                    "source": source.name,
                    "key": source.key,
                    "count": 1,
                    "message": first_words(caught.message),
                }
            else:
                entry["count"] += 1

    def items(self) -> list[dict[str, Any]]:
        """One JSON-ready dict per kind: step, category, source, key, count, message."""
        return [dict(entry) for entry in self._kinds.values()]

    def __bool__(self) -> bool:
        return bool(self._kinds)


def quietly() -> AbstractContextManager:
    """Warnings recorded and dropped: for fits that redo loops already counted (resume)."""
    return warnings.catch_warnings(record=True)


def estimator_name(model: Any) -> str:
    """A fitted model's class name; a Pipeline's is its last step's."""
    return type(final_estimator(model)).__name__


def first_words(message: Any) -> str:
    """A warning's message up to its first blank line, on one line, capped."""
    text = " ".join(str(message).strip().split("\n\n")[0].split())
    return text if len(text) <= MESSAGE_CHARS else text[: MESSAGE_CHARS - 1] + "…"

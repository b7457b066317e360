"""One label out of a task's annotations, by one rule for every format a labeling tool writes.

Label Studio lets several people annotate one task (or one person twice); a whole-project
export then carries all of them. ``resolve`` turns them into the one label the run records:

- ``newest``: the annotation updated last (ties: the one listed last);
- ``majority``: the most common label; a tie between the most common labels is a conflict;
- ``refuse``: any disagreement is a conflict.

One vote per annotator: a person who annotated a task twice counts once, with their newest
answer. Answers win over skips: an annotator who skipped a task does not outvote one who
answered it, so a task is skipped only when every annotation is a skip. Pure: no files.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

RESOLVE_RULES = ("newest", "majority", "refuse")


@dataclass(frozen=True)
class Annotation:
    """One annotation of one task, as read from a file."""

    label: str | None  # None: the annotator skipped (cancelled) the task
    annotator: str = ""  # who (Label Studio's completed_by id or email), "" if unknown
    updated: str = ""  # ISO-8601 timestamp, "" if the format does not say


@dataclass(frozen=True)
class Resolved:
    """The outcome for one task."""

    label: str | None  # the label taken; None when skipped or in conflict
    skipped: bool = False  # every annotation was a skip
    conflict: str | None = None  # why no label could be taken (names the labels), or None


def resolve(annotations: Sequence[Annotation], rule: str) -> Resolved:
    """The label a task's annotations give under ``rule``.

    Parameters
    ----------
    annotations : sequence of Annotation
        The task's annotations in the order the file lists them (the order breaks ties between
        equal timestamps under ``newest``). Empty means the task is not annotated yet.
    rule : {"newest", "majority", "refuse"}

    Returns
    -------
    Resolved
        ``label`` is None both when nothing is annotated yet (``skipped`` False, no
        ``conflict``) and when every annotation is a skip (``skipped`` True).

    Raises
    ------
    ValueError
        ``rule`` is not one of RESOLVE_RULES.
    """
    if rule not in RESOLVE_RULES:
        raise ValueError(f"Unknown resolve rule {rule!r}. Available: {', '.join(RESOLVE_RULES)}.")
    votes = _one_per_annotator(list(annotations))
    answers = [a for a in votes if a.label is not None]
    if not answers:
        return Resolved(None, skipped=bool(votes))
    counts = Counter(a.label for a in answers)
    if len(counts) == 1:
        return Resolved(answers[0].label)
    if rule == "newest":
        if any(not a.updated for a in answers):
            return Resolved(
                None,
                conflict=f"{_described(answers, sorted(counts))}, and the file does not say which "
                "is newest (no updated_at): export JSON from Label Studio, or choose resolve: "
                "majority",
            )
        # max keeps the first of equal keys: enumerate so the one listed last wins a tie.
        _, newest = max(enumerate(answers), key=lambda ka: (ka[1].updated, ka[0]))
        return Resolved(newest.label)
    if rule == "majority":
        ranked = counts.most_common()
        top = ranked[0][1]
        leaders = sorted(label for label, count in ranked if count == top)
        if len(leaders) == 1:
            return Resolved(leaders[0])
        return Resolved(None, conflict=f"a tie between {_described(answers, leaders)}")
    return Resolved(None, conflict=f"annotators disagree: {_described(answers, sorted(counts))}")


def _one_per_annotator(annotations: list[Annotation]) -> list[Annotation]:
    """Each known annotator's newest answer, or their newest skip if they only skipped (a
    person who annotated a task twice changed their mind: one vote each, and a skip after
    an answer does not undo it); annotations of unknown annotators all count."""
    best: dict[str, int] = {}
    for k, annotation in enumerate(annotations):
        if annotation.annotator:
            kept = best.get(annotation.annotator)
            if kept is None or _rank(annotation) >= _rank(annotations[kept]):
                best[annotation.annotator] = k
    keep = set(best.values())
    return [a for k, a in enumerate(annotations) if not a.annotator or k in keep]


def _rank(annotation: Annotation) -> tuple[bool, str]:
    return annotation.label is not None, annotation.updated


def _described(answers: list[Annotation], labels: list[str]) -> str:
    """The labels with who gave them: "'cat' (by 3, 7) and 'dog' (1 annotation)"."""
    parts = []
    for label in labels:
        given = [a for a in answers if a.label == label]
        who = list(dict.fromkeys(a.annotator for a in given if a.annotator))
        unnamed = len(given) - len(who)
        detail = [f"by {', '.join(who)}"] if who else []
        if unnamed:
            detail.append(f"{unnamed} {'annotation' if unnamed == 1 else 'annotations'}")
        parts.append(f"'{label}' ({'; '.join(detail)})")
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]

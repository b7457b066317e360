"""Class labels to class codes. The classes of a run need not be sorted: classes named by
annotators during the run (``allow_new_classes``) are appended, so codes never move. Labels a
config or a model names are matched as text (:func:`label_text`)."""

from __future__ import annotations

import numpy as np

# Codes that are not classes (class codes are >= 0), in one place.
#: The data holds no target for this record (an unlabeled pool record).
UNLABELED = -1
#: Nobody has answered yet: the batch waits (a person has it).
UNANSWERED = -1
#: The annotator abstained: the record leaves the batch.
SKIPPED = -2


def codes_of(classes: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """The code (index into ``classes``) of each label, shape (n,); every label is a class.

    Parameters
    ----------
    classes : ndarray of shape (n_classes,)
        Distinct class labels, in code order (sorted, then any added during the run).
    labels : ndarray of shape (n,)
    """
    order = np.argsort(classes, kind="stable")
    return order[np.searchsorted(classes[order], np.asarray(labels))].astype(np.int64)


def with_new_classes(classes: np.ndarray, new: list) -> np.ndarray:
    """``classes`` with ``new`` labels appended (codes of the old ones unchanged)."""
    if not new:
        return classes
    if classes.dtype.kind in "iu":
        return np.concatenate([classes, np.asarray(new, dtype=classes.dtype)])
    return np.concatenate([classes.astype(str), np.asarray([str(v) for v in new])])


def label_text(label: object) -> str:
    """A class label as text, for matching labels a config or a model names (a YAML key 3, a
    class "3" and a model's 3.0 are all the class 3)."""
    if isinstance(label, float) and label.is_integer():
        return str(int(label))
    return str(label)


def codes_by_text(classes: np.ndarray) -> dict[str, int]:
    """Each class's :func:`label_text` -> its code."""
    return {label_text(label): code for code, label in enumerate(classes.tolist())}

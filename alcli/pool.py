"""The pool: which records are labeled, with what, and in which order they were acquired."""

from __future__ import annotations

import mmap
from collections.abc import Iterator

import numpy as np

from alcli.classes import UNLABELED


def release_rows(X: np.ndarray, first: int, stop: int) -> None:
    """Let this process drop a memory-mapped matrix's pages of rows [first, stop).

    A pass over a pool larger than memory maps its pages in as it reads them, and they
    count as the process's resident memory until they are unmapped. Dropping them after
    each chunk (MADV_DONTNEED; the data stays in the kernel's page cache) keeps a pass at
    one chunk's memory. Anything but a C-ordered np.memmap is left alone.
    """
    mm = getattr(X, "_mmap", None)
    if mm is None or not X.flags.c_contiguous or not hasattr(mm, "madvise"):
        return
    row_bytes = X.strides[0]
    # np.memmap maps from the offset rounded down to the allocation granularity.
    base = getattr(X, "offset", 0) % mmap.ALLOCATIONGRANULARITY
    start = base + first * row_bytes
    start -= start % mmap.PAGESIZE
    end = min(base + stop * row_bytes, len(mm))
    if end > start:
        mm.madvise(mmap.MADV_DONTNEED, start, end - start)


def row_chunks(X: np.ndarray, chunk_rows: int = 65536) -> Iterator[tuple[int, np.ndarray]]:
    """``(first row, rows)`` blocks of X in order; a memory-mapped X releases each block's
    pages once the next is asked for."""
    for start in range(0, X.shape[0], chunk_rows):
        yield start, X[start : start + chunk_rows]
        release_rows(X, start, start + chunk_rows)


class Pool:
    """Labeling state over a fixed set of records.

    The feature matrix is referenced, never copied: labeled and unlabeled records are
    told apart by a boolean mask.

    Parameters
    ----------
    features : ndarray of shape (n_records, n_features)
    ids : ndarray of shape (n_records,)
        Record ids (strings, or integer row numbers).
    """

    def __init__(self, features: np.ndarray, ids: np.ndarray):
        self.features = features
        self.ids = ids
        n = ids.shape[0]
        self.labeled = np.zeros(n, dtype=bool)
        self.labels = np.full(n, UNLABELED, dtype=np.int64)
        self._order = np.empty(n, dtype=np.int64)
        self._loop_of = np.empty(n, dtype=np.int32)
        self.n_labeled = 0
        # Records an annotator skipped: out of the candidates from then on.
        self.skipped = np.zeros(n, dtype=bool)
        self.n_skipped = 0
        self._skip_order: list[np.ndarray] = []
        self._skip_loops: list[np.ndarray] = []

    @property
    def size(self) -> int:
        return self.ids.shape[0]

    @property
    def n_unlabeled(self) -> int:
        """Records that can still be selected: neither labeled nor skipped."""
        return self.size - self.n_labeled - self.n_skipped

    @property
    def order(self) -> np.ndarray:
        """Pool indices in the order they were labeled, shape (n_labeled,)."""
        return self._order[: self.n_labeled]

    @property
    def loop_of(self) -> np.ndarray:
        """The loop each record of ``order`` was labeled in, shape (n_labeled,)."""
        return self._loop_of[: self.n_labeled]

    def unlabeled_indices(self, up_to_loop: int | None = None) -> np.ndarray:
        """The candidates: records neither labeled nor skipped, ascending (as they were after
        loop ``up_to_loop``, if given)."""
        if up_to_loop is None:
            return np.flatnonzero(~(self.labeled | self.skipped))
        taken = np.zeros(self.size, dtype=bool)
        taken[self.order[self.loop_of <= up_to_loop]] = True
        for indices, loops in zip(self._skip_order, self._skip_loops, strict=True):
            taken[indices[loops <= up_to_loop]] = True
        return np.flatnonzero(~taken)

    def skip(self, indices: np.ndarray, loop: int) -> None:
        """Take records an annotator abstained on out of the candidates."""
        if indices.size:
            self.skipped[indices] = True
            self.n_skipped += int(indices.shape[0])
            self._skip_order.append(np.asarray(indices, dtype=np.int64))
            self._skip_loops.append(np.full(indices.shape[0], loop, dtype=np.int32))

    def add(self, indices: np.ndarray, codes: np.ndarray, loop: int) -> None:
        """Record labels (class codes) for unlabeled records."""
        if self.labeled[indices].any():
            raise ValueError("a record was labeled twice")
        if np.unique(indices).shape[0] != indices.shape[0]:
            raise ValueError("a batch holds the same record twice")
        end = self.n_labeled + indices.shape[0]
        self._order[self.n_labeled : end] = indices
        self._loop_of[self.n_labeled : end] = loop
        self.labeled[indices] = True
        self.labels[indices] = codes
        self.n_labeled = end

    def training_set(
        self, up_to_loop: int | None = None, order: str = "acquisition"
    ) -> tuple[np.ndarray, np.ndarray]:
        """Indices and class codes of records labeled so far (or up to and with a loop).

        ``order`` is ``"acquisition"`` (the order they were labeled in) or ``"pool"``
        (ascending pool index: what a plain mask-based loop fits on, so a model depends only
        on which records are labeled, not on when).
        """
        indices = self.order if up_to_loop is None else self.order[self.loop_of <= up_to_loop]
        if order == "pool":
            indices = np.sort(indices)
        return indices, self.labels[indices]

    def state(self) -> dict[str, np.ndarray]:
        """What a checkpoint needs to rebuild this pool."""
        order = self.order
        state = {
            "order": order.copy(),
            "labels": self.labels[order],
            "loop_of": self.loop_of.copy(),
        }
        if self._skip_order:  # most runs skip nothing: two arrays less to write every loop
            state["skipped"] = np.concatenate(self._skip_order)
            state["skipped_loop"] = np.concatenate(self._skip_loops)
        return state

    def restore(self, state: dict[str, np.ndarray]) -> None:
        """Replay a checkpoint's acquisitions, loop by loop."""
        for loop in np.unique(state["loop_of"]):
            in_loop = state["loop_of"] == loop
            self.add(state["order"][in_loop], state["labels"][in_loop], int(loop))
        skipped = state.get("skipped", np.empty(0, dtype=np.int64))
        skipped_loop = state.get("skipped_loop", np.empty(0, dtype=np.int32))
        for loop in np.unique(skipped_loop):
            self.skip(skipped[skipped_loop == loop], int(loop))

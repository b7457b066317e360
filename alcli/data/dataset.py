"""Load a dataset from the config's data section, split pool and test, fingerprint it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from alcli.classes import UNLABELED
from alcli.data.config import DataConfig
from alcli.data.readers import Table, read_sklearn, read_table, refuse_unlabeled
from alcli.errors import DataError, agree, preview
from alcli.pool import row_chunks
from alcli.seeding import SPLIT, random_state_for


@dataclass(frozen=True)
class Dataset:
    """The pool and the test set, labels encoded as indices into ``classes``.

    Attributes
    ----------
    X : ndarray of shape (n_pool, n_features)
    ids : ndarray of shape (n_pool,)
        Strings from an id column, or int64 row numbers.
    y : ndarray of int64, shape (n_pool,)
        Class codes; ``UNLABELED`` (-1) where the data holds no target.
    classes : ndarray of shape (n_classes,)
        The class labels as they are in the data (ints, or strings).
    X_test : ndarray of shape (n_test, n_features)
    y_test : ndarray of int64, shape (n_test,)
    ids_test : ndarray of shape (n_test,)
    feature_names : list of str
    fingerprint : str
        sha256 of everything above: resume refuses data that changed.
    """

    X: np.ndarray
    ids: np.ndarray
    y: np.ndarray
    classes: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    ids_test: np.ndarray
    feature_names: list[str]
    fingerprint: str

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """Class labels as they are in the data, for class codes."""
        return self.classes[codes]


def load_dataset(cfg: DataConfig, seed: int) -> Dataset:
    """Read the data the config names and hold out the test set.

    Raises
    ------
    DataError
        Naming the file, column or record at fault and how to fix it.
    """
    if cfg.dataset_name is not None:
        table = read_sklearn(cfg.dataset_name)
    else:
        table = read_table(cfg.path, cfg)
    if cfg.test_path is not None:
        test = read_table(cfg.test_path, cfg)
        if test.feature_names != table.feature_names:
            raise DataError(
                f"{cfg.test_path}: its feature columns ({', '.join(test.feature_names)}) differ "
                f"from {cfg.path}'s ({', '.join(table.feature_names)}); use the same columns"
            )
        refuse_unlabeled(test, str(cfg.test_path), "the test set", cfg.target)
        if table.labels.dtype.kind != test.labels.dtype.kind:
            table, test = _labels_as_text(table), _labels_as_text(test)
        if cfg.classes is not None and _as_text(cfg.classes, table):
            table, test = _labels_as_text(table), _labels_as_text(test)
        classes = _classes(np.concatenate([table.labels[table.has_label], test.labels]), cfg)
        return _dataset(
            table.X,
            table.ids,
            _encode(table, classes),
            classes,
            test.X,
            _encode(test, classes),
            test.ids,
            table.feature_names,
        )
    if cfg.classes is not None and _as_text(cfg.classes, table):
        table = _labels_as_text(table)
    classes = _classes(table.labels[table.has_label], cfg)
    codes = _encode(table, classes)
    if not cfg.has_test_set:
        nothing = np.empty(0, dtype=np.int64)
        X_test = np.empty((0, table.X.shape[1]), dtype=table.X.dtype)
        return _dataset(
            table.X, table.ids, codes, classes, X_test, nothing, table.ids[:0], table.feature_names
        )
    pool_rows, test_rows = _stratified_split(codes, cfg, seed)
    X_test = table.X[test_rows]  # copied out first: compacting overwrites these rows
    return _dataset(
        _compact_rows(table.X, pool_rows),
        table.ids[pool_rows],
        codes[pool_rows],
        classes,
        X_test,
        codes[test_rows],
        table.ids[test_rows],
        table.feature_names,
    )


def _labels_as_text(table: Table) -> Table:
    labels = np.where(table.has_label, table.labels.astype(str), "")
    return Table(table.X, labels, table.has_label, table.ids, table.feature_names)


def _as_text(declared: list, table: Table) -> bool:
    """Whether declared classes and the data's labels meet as text (not both integers)."""
    integers = all(isinstance(c, int) and not isinstance(c, bool) for c in declared)
    return not (integers and table.labels.dtype.kind in "iu")


def _classes(present: np.ndarray, cfg: DataConfig) -> np.ndarray:
    """The sorted distinct labels (data.classes when declared); at least two are needed."""
    where = cfg.path or cfg.source
    if cfg.classes is not None:
        if present.dtype.kind in "iu":  # int64, whatever the labels' own width (no wrap)
            classes = np.unique(np.array(cfg.classes, dtype=np.int64))
        else:
            classes = np.unique(np.array([str(c) for c in cfg.classes]))
        unknown = np.setdiff1d(np.unique(present), classes)
        if unknown.size:
            raise DataError(
                f"{where}: {preview(unknown)} {agree(unknown.size, 'is', 'are')} not in "
                f"data.classes ({', '.join(map(str, classes))}); add "
                f"{agree(unknown.size, 'it', 'them')} to data.classes, or fix the labels"
            )
        return classes
    classes = np.unique(present)
    if classes.shape[0] == 0:
        raise DataError(
            f"{where}: the pool holds no labels in '{cfg.target}', so neither its classes nor a "
            "test set can come from it. Either give a labeled test file as data.test_path, or "
            "run without a test set: declare the classes people will label (data.classes: "
            "[spam, ham]) with data.test_size: 0, and end the run with a budget (stop.budget) or "
            "a stop criterion that needs no labels (stop.when: [{name: stabilizing_predictions}])"
        )
    if classes.shape[0] < 2:
        raise DataError(
            f"{where}: active learning needs at least 2 classes in '{cfg.target}'; found only "
            f"'{classes[0]}' (declare the others with data.classes if the pool lacks them yet)"
        )
    return classes


def _encode(table: Table, classes: np.ndarray) -> np.ndarray:
    """Class codes (indices into ``classes``), UNLABELED where the target is empty."""
    codes = np.full(table.labels.shape[0], UNLABELED, dtype=np.int64)
    codes[table.has_label] = np.searchsorted(classes, table.labels[table.has_label])
    return codes


def _stratified_split(codes: np.ndarray, cfg: DataConfig, seed: int):
    """Pool rows and test rows; only labeled rows can go to the test set."""
    from sklearn.model_selection import train_test_split

    labeled = np.flatnonzero(codes != UNLABELED)
    try:
        pool_labeled, test_rows = train_test_split(
            labeled,
            test_size=cfg.holdout_share,
            stratify=codes[labeled],
            random_state=random_state_for(seed, SPLIT),
        )
    except ValueError as exc:
        raise DataError(
            f"{cfg.path or cfg.source}: cannot hold out a stratified test set of "
            f"test_size={cfg.holdout_share} ({exc}); change data.test_size, or give data.test_path"
        ) from None
    pool_rows = np.sort(np.concatenate([pool_labeled, np.flatnonzero(codes == UNLABELED)]))
    return pool_rows, np.sort(test_rows)


def _compact_rows(X: np.ndarray, rows: np.ndarray, chunk_rows: int = 65536) -> np.ndarray:
    """``X[rows]`` for ascending ``rows``, moved to the front of X in place: a view, no copy.

    Safe because ``rows[i] >= i``: a row is always read before its place is written over.
    """
    for start in range(0, rows.shape[0], chunk_rows):
        stop = min(start + chunk_rows, rows.shape[0])
        X[start:stop] = X[rows[start:stop]]
    return X[: rows.shape[0]]


def _dataset(X, ids, y, classes, X_test, y_test, ids_test, feature_names) -> Dataset:
    digest = hashlib.sha256()
    for array in (X, y, X_test, y_test, classes.astype(str), ids):
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        if isinstance(array, np.memmap):
            # Chunk by chunk, each released: a memory-mapped pool is never resident whole.
            for _, block in row_chunks(array):
                digest.update(np.ascontiguousarray(block).data)
        else:
            digest.update(np.ascontiguousarray(array).data)  # the buffer itself: no copy
    return Dataset(X, ids, y, classes, X_test, y_test, ids_test, feature_names, digest.hexdigest())

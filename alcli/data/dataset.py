"""Load a dataset from the config's data section, split pool and test, fingerprint it."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from alcli.classes import UNLABELED
from alcli.data.config import DataConfig
from alcli.data.preprocessing import (
    PreprocessConfig,
    build_preprocessor,
    column_kinds,
    fit_transform,
)
from alcli.data.readers import Table, read_sklearn, read_table, refuse_unlabeled
from alcli.errors import DataError, agree, plural, preview
from alcli.pool import row_chunks
from alcli.seeding import SPLIT, random_state_for


@dataclass(frozen=True)
class Dataset:
    """The pool and the test set, labels encoded as indices into ``classes``.

    Attributes
    ----------
    X : ndarray or scipy CSR matrix of shape (n_pool, n_features)
        Sparse when text or category columns were preprocessed into many features.
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
    #: Feature column -> its kind, when the columns were preprocessed by kind (else empty).
    column_kinds: dict[str, str] = field(default_factory=dict)

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
            cfg,
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
            cfg,
            table.X,
            table.ids,
            codes,
            classes,
            X_test,
            nothing,
            table.ids[:0],
            table.feature_names,
        )
    pool_rows, test_rows = _stratified_split(codes, classes, cfg, seed)
    X_test = table.X[test_rows]  # copied out first: compacting overwrites these rows
    return _dataset(
        cfg,
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


def _stratified_split(codes: np.ndarray, classes: np.ndarray, cfg: DataConfig, seed: int):
    """Pool rows and test rows; only labeled rows can go to the test set."""
    from sklearn.model_selection import train_test_split

    labeled = np.flatnonzero(codes != UNLABELED)
    problem = _unsplittable(codes[labeled], classes, cfg.holdout_share)
    if problem:
        raise DataError(
            f"{cfg.path or cfg.source}: cannot hold out a stratified test set of "
            f"test_size={cfg.holdout_share}: {problem}"
        )
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


#: Classes a message lists by name before it says "and N more".
_LISTED = 5


def _unsplittable(codes: np.ndarray, classes: np.ndarray, share: float) -> str | None:
    """Why the labeled records ``codes`` cannot be split stratified with ``share`` of them in
    the test set (the checks scikit-learn makes, in the data's class names), or None."""
    n, n_classes = codes.shape[0], classes.shape[0]
    counts = np.bincount(codes, minlength=n_classes)
    present = np.flatnonzero(counts)
    rare = present[counts[present] < 2]
    if rare.size:
        rare = rare[np.argsort(counts[rare], kind="stable")]
        listed = ", ".join(
            f"class '{classes[c]}' has {plural(int(counts[c]), 'record')}" for c in rare[:_LISTED]
        )
        more = f" (and {rare.size - _LISTED} more such classes)" if rare.size > _LISTED else ""
        return (
            f"{listed}{more}; a stratified split needs at least 2 records of each class "
            "(one for the pool, one for the test set). Label more records of "
            f"{agree(rare.size, 'that class', 'those classes')}, drop "
            f"{agree(rare.size, 'it', 'them')} from the data, or give a test file as "
            "data.test_path (or data.test_size: 0 for none)"
        )
    n_test = math.ceil(share * n)
    n_pool = n - n_test
    k = present.size
    if n_test < k:
        return (
            f"{share:.0%} of the {plural(n, 'labeled record')} is {plural(n_test, 'record')}, "
            f"fewer than the {k} classes ({_class_list(classes[present])}), and a stratified "
            f"test set holds each class at least once; raise data.test_size to at least "
            f"{_least_share(k, n)}, or give a test file as data.test_path"
        )
    if n_pool < k:
        return (
            f"it would leave {plural(n_pool, 'labeled record')} in the pool, fewer than the "
            f"{k} classes ({_class_list(classes[present])}), and the pool needs each class at "
            "least once; lower data.test_size, or give a test file as data.test_path"
        )
    return None


def _class_list(names: np.ndarray) -> str:
    shown = ", ".join(f"'{name}'" for name in names[:_LISTED].tolist())
    return shown + (f" and {names.size - _LISTED} more" if names.size > _LISTED else "")


def _least_share(k: int, n: int) -> str:
    """The smallest test share, rounded up to a hundredth, that puts ``k`` of ``n`` records
    in the test set."""
    share = math.ceil(k / n * 100) / 100
    while math.ceil(share * n) < k:
        share += 0.01
    return f"{share:.2f}"


def _compact_rows(X: np.ndarray, rows: np.ndarray, chunk_rows: int = 65536) -> np.ndarray:
    """``X[rows]`` for ascending ``rows``, moved to the front of X in place: a view, no copy.

    Safe because ``rows[i] >= i``: a row is always read before its place is written over.
    """
    for start in range(0, rows.shape[0], chunk_rows):
        stop = min(start + chunk_rows, rows.shape[0])
        X[start:stop] = X[rows[start:stop]]
    return X[: rows.shape[0]]


def _dataset(cfg, X, ids, y, classes, X_test, y_test, ids_test, feature_names) -> Dataset:
    kinds: dict[str, str] = {}
    if _is_raw(X) or _is_raw(X_test):
        X, X_test, feature_names, kinds = _preprocessed(cfg, X, X_test, feature_names)
    digest = hashlib.sha256()
    for array in (X, y, X_test, y_test, classes.astype(str), ids):
        if sp.issparse(array):
            array = array.tocsr()
            parts = (array.data, array.indices, array.indptr)
            digest.update(f"csr{array.shape}".encode())
        else:
            parts = (array,)
        for part in parts:
            digest.update(f"{part.dtype.str}{part.shape}".encode())
            if isinstance(part, np.memmap):
                # Chunk by chunk, each released: a memory-mapped pool is never resident whole.
                for _, block in row_chunks(part):
                    digest.update(np.ascontiguousarray(block).data)
            else:
                digest.update(np.ascontiguousarray(part).data)  # the buffer itself: no copy
    return Dataset(
        X, ids, y, classes, X_test, y_test, ids_test, feature_names, digest.hexdigest(), kinds
    )


def _is_raw(X) -> bool:
    """Cells kept as text by the reader, for preprocessing by kind."""
    return not sp.issparse(X) and X.dtype.kind in "UO"


def _preprocessed(cfg: DataConfig, X, X_test, feature_names: list[str]):
    """The pool's and test set's cells turned into features by column kind, fit on the pool."""
    X, X_test = _cells_as_text(X), _cells_as_text(X_test)
    settings = cfg.preprocessing or PreprocessConfig()
    where = str(cfg.path or cfg.source)
    kinds = column_kinds(feature_names, X, settings.columns, where)
    preprocessor = build_preprocessor(feature_names, kinds, settings)
    try:
        X, X_test = fit_transform(preprocessor, X, X_test)
    except ValueError as exc:  # e.g. a text column whose words are all below min_df
        raise DataError(
            f"{where}: data.preprocess: the columns cannot be turned into features with these "
            f"settings ({exc}); loosen them (e.g. a lower data.preprocess.text.min_df)"
        ) from None
    names = [str(n) for n in preprocessor.get_feature_names_out(feature_names)]
    return X, X_test, names, kinds


def _cells_as_text(X: np.ndarray) -> np.ndarray:
    if X.dtype.kind in "UO":
        return X.astype(str, copy=False)  # the raw cells are text already
    return np.array([[repr(v) if v == v else "" for v in row] for row in X.tolist()], dtype=str)

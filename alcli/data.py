"""Load a dataset from the config's data section, split pool and test, fingerprint it."""

from __future__ import annotations

import csv
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from alcli.config import DataConfig
from alcli.errors import DataError, agree, plural, preview
from alcli.seeding import random_state_for

UNLABELED = -1
_INT_LABEL = re.compile(r"^[+-]?\d+$")


@dataclass(frozen=True)
class Table:
    """Records as read from one file, before the pool / test split.

    ``labels`` holds the class labels (integers where every label is one, else strings);
    ``has_label`` is False where the target is empty. ``ids`` are strings from an id column,
    or integer row numbers.
    """

    X: np.ndarray
    labels: np.ndarray
    has_label: np.ndarray
    ids: np.ndarray
    feature_names: list[str]


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
        table = _read_sklearn(cfg.dataset_name)
    else:
        table = read_table(cfg.path, cfg)
    if cfg.test_path is not None:
        test = read_table(cfg.test_path, cfg)
        if test.feature_names != table.feature_names:
            raise DataError(
                f"{cfg.test_path}: its feature columns ({', '.join(test.feature_names)}) differ "
                f"from {cfg.path}'s ({', '.join(table.feature_names)}); use the same columns"
            )
        missing = test.ids[~test.has_label]
        if missing.size:
            raise DataError(
                f"{cfg.test_path}: the test set must be labeled, but "
                f"{plural(len(missing), 'record')} {agree(len(missing), 'lacks', 'lack')} a "
                f"{cfg.target} (ids {preview(missing)}); "
                "fill them or drop those rows"
            )
        if table.labels.dtype.kind != test.labels.dtype.kind:
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
    classes = _classes(table.labels[table.has_label], cfg)
    codes = _encode(table, classes)
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


def read_table(path: Path, cfg: DataConfig) -> Table:
    """Read a CSV or NPZ file into a :class:`Table`."""
    if not path.exists():
        raise DataError(
            f"{path}: file not found (data.path / data.test_path); check the path, "
            "which is relative to the config file"
        )
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _read_csv(path, cfg)
    if suffix == ".npz":
        return _read_npz(path)
    raise DataError(f"{path}: unsupported file type '{suffix}'; use a .csv or .npz file")


def read_id_list(path: Path) -> list[str]:
    """One record id per line; blank lines are skipped."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DataError(
            f"{path}: file not found (init.path); give a file with one record id per line"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot be read (init.path): {exc}") from None
    return [line.strip() for line in text.splitlines() if line.strip()]


def _read_sklearn(name: str) -> Table:
    from sklearn import datasets

    X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    return Table(
        X,
        y,
        np.ones(y.shape[0], dtype=bool),
        np.arange(y.shape[0]),
        [f"x{i}" for i in range(X.shape[1])],
    )


def _read_csv(path: Path, cfg: DataConfig) -> Table:
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{path}: cannot be read as CSV: {exc}") from None
    if not rows:
        raise DataError(f"{path}: the file is empty; a CSV needs a header row and records")
    header = [name.strip() for name in rows[0]]
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated or "" in header:
        problem = (
            f"repeated column names: {', '.join(repeated)}" if repeated else "a column with no name"
        )
        raise DataError(f"{path}: the header row has {problem}; give every column its own name")
    body = rows[1:]
    if not body:
        raise DataError(f"{path}: the file has a header but no records")
    if cfg.target not in header:
        raise DataError(
            f"{path}: no '{cfg.target}' column (data.target). Columns: {', '.join(header)}. "
            "Set data.target to the column that holds the class label"
        )
    target_col = header.index(cfg.target)
    id_name = cfg.id or "id"
    id_col = header.index(id_name) if id_name in header else None
    if id_col is None and cfg.id is not None:
        raise DataError(
            f"{path}: no '{cfg.id}' column (data.id). Columns: {', '.join(header)}. Name the "
            "column that holds record ids, or leave data.id out to number the rows"
        )
    if cfg.features is not None:
        unknown = [f for f in cfg.features if f not in header]
        if unknown:
            raise DataError(
                f"{path}: data.features names columns it lacks: {', '.join(unknown)}. "
                f"Columns: {', '.join(header)}"
            )
        feature_names = list(cfg.features)
    else:
        feature_names = [h for i, h in enumerate(header) if i not in (target_col, id_col)]
    if not feature_names:
        raise DataError(f"{path}: no feature columns besides '{cfg.target}'")
    feature_cols = [header.index(name) for name in feature_names]
    for line_no, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise DataError(
                f"{path}, line {line_no}: {len(row)} fields where the header has "
                f"{len(header)}; every row needs one value per column"
            )
    cells = np.array([[row[c].strip() for c in feature_cols] for row in body], dtype=str)
    cells[cells == ""] = "nan"  # an empty cell is a missing value
    try:
        X = cells.astype(np.float64)
    except ValueError:
        bad = _first_non_numeric(cells)
        raise DataError(
            f"{path}, line {bad[0] + 2}, column '{feature_names[bad[1]]}': '{bad[2]}' is not a "
            "number; feature columns must be numeric (list the numeric ones in data.features)"
        ) from None
    _refuse_infinite(X, path, feature_names, first_line=2)
    labels, has_label = _parse_labels(np.array([row[target_col].strip() for row in body]))
    if id_col is None:
        ids = np.arange(len(body))
    else:
        ids = np.array([row[id_col].strip() for row in body], dtype=str)
        _check_ids(ids, path)
    return Table(X, labels, has_label, ids, feature_names)


def _read_npz(path: Path) -> Table:
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except (OSError, ValueError) as exc:
        raise DataError(
            f"{path}: cannot be read as NPZ (arrays X, y, optional ids): {exc}"
        ) from None
    for key in ("X", "y"):
        if key not in arrays:
            raise DataError(
                f"{path}: no array '{key}'; an NPZ needs X (n_records, n_features), "
                f"y (n_records,) and optionally ids. It has: {', '.join(arrays)}"
            )
    X, y = arrays["X"], arrays["y"]
    if X.ndim != 2 or y.ndim != 1 or X.shape[0] != y.shape[0]:
        raise DataError(
            f"{path}: X must be 2-D and y 1-D with one entry per row of X; got X "
            f"{X.shape} and y {y.shape}"
        )
    if not (np.issubdtype(X.dtype, np.integer) or np.issubdtype(X.dtype, np.floating)):
        raise DataError(f"{path}: X must hold real numbers; got dtype {X.dtype}")
    if X.shape[1] == 0:
        raise DataError(f"{path}: X has no feature columns (shape {X.shape})")
    _refuse_infinite(X, path, [f"x{i}" for i in range(X.shape[1])], first_line=None)
    if "ids" in arrays:
        ids = arrays["ids"].astype(str)
        if ids.shape != y.shape:
            raise DataError(f"{path}: ids has shape {ids.shape}; it needs one id per row of X")
        _check_ids(ids, path)
    else:
        ids = np.arange(y.shape[0])
    if np.issubdtype(y.dtype, np.integer):
        labels, has_label = y, np.ones(y.shape[0], dtype=bool)
    elif np.issubdtype(y.dtype, np.floating):
        has_label = ~np.isnan(y)
        if not (y[has_label] == np.round(y[has_label])).all():
            example = y[has_label][y[has_label] != np.round(y[has_label])][0]
            raise DataError(
                f"{path}: y holds numbers that are not whole (e.g. {example}), which look like a "
                "regression target; alcli needs class labels (integers or strings)"
            )
        labels = np.where(has_label, y, 0).astype(np.int64)
    else:
        labels, has_label = _parse_labels(np.char.strip(y.astype(str)))
    return Table(X, labels, has_label, ids, [f"x{i}" for i in range(X.shape[1])])


def rows_where(X: np.ndarray, test, chunk_rows: int = 65536) -> np.ndarray:
    """Indices of the rows of X where ``test`` (elementwise, e.g. np.isnan) holds anywhere.

    Scans in chunks of rows, so the boolean temporary stays small on a large pool.
    """
    if not np.issubdtype(X.dtype, np.floating):
        return np.empty(0, dtype=np.int64)
    hits = [
        start + np.flatnonzero(test(X[start : start + chunk_rows]).any(axis=1))
        for start in range(0, X.shape[0], chunk_rows)
    ]
    return np.concatenate(hits) if hits else np.empty(0, dtype=np.int64)


def _refuse_infinite(X: np.ndarray, path: Path, names: list[str], first_line: int | None):
    """No model fits on inf (a CSV's 'inf' or 1e400 parses as a float)."""
    rows = rows_where(X, np.isinf)
    if rows.size == 0:
        return
    row = int(rows[0])
    col = int(np.flatnonzero(np.isinf(X[row]))[0])
    where = f"line {row + first_line}" if first_line is not None else f"row {row}"
    raise DataError(
        f"{path}, {where}, column '{names[col]}': the value is infinite; features must be finite "
        "numbers (use an empty cell for a missing value)"
    )


def _check_ids(ids: np.ndarray, path: Path) -> None:
    if (ids == "").any():
        raise DataError(
            f"{path}: record {int(np.flatnonzero(ids == '')[0]) + 1} has an empty id; "
            "every record needs an id"
        )
    unique, counts = np.unique(ids, return_counts=True)
    if (counts > 1).any():
        raise DataError(f"{path}: ids must be unique; repeated: {preview(unique[counts > 1])}")


def _parse_labels(text: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Labels read as text: integers when every non-empty one is ("0", "1" are classes 0, 1)."""
    has_label = text != ""
    present = np.unique(text[has_label])
    # "0", "1" are the classes 0 and 1; "01" stays text, so it never merges with "1".
    if all(_INT_LABEL.match(v) and str(int(v)) == v for v in present.tolist()):
        return np.where(has_label, text, "0").astype(np.int64), has_label
    return text, has_label


def _labels_as_text(table: Table) -> Table:
    labels = np.where(table.has_label, table.labels.astype(str), "")
    return Table(table.X, labels, table.has_label, table.ids, table.feature_names)


def _classes(present: np.ndarray, cfg: DataConfig) -> np.ndarray:
    """The sorted distinct labels; at least two are needed."""
    classes = np.unique(present)
    if classes.shape[0] < 2:
        where = cfg.path or cfg.source
        found = f"only '{classes[0]}'" if classes.shape[0] else "none"
        raise DataError(
            f"{where}: active learning needs at least 2 classes in '{cfg.target}'; found {found}"
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
            random_state=random_state_for(seed, "split"),
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
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.data)  # the buffer itself: no copy of the pool
    return Dataset(X, ids, y, classes, X_test, y_test, ids_test, feature_names, digest.hexdigest())


def _first_non_numeric(cells: np.ndarray) -> tuple[int, int, str]:
    for r, row in enumerate(cells):
        for c, cell in enumerate(row):
            try:
                float(cell)
            except ValueError:
                return r, c, str(cell)
    return 0, 0, ""

"""Read records from a bundled dataset, a CSV, Parquet, NPZ or NPY file into a :class:`Table`.

CSV is read in the dialects spreadsheets write (see :mod:`alcli.data.csv_dialects`); Parquet
needs pyarrow (the ``parquet`` extra).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from alcli.atomic import file_problem
from alcli.data.cells import Cells, Column
from alcli.data.config import DataConfig
from alcli.data.csv_dialects import detect_dialect
from alcli.data.numbers import NotNumber, parse_numbers
from alcli.data.parquet import parquet_cells
from alcli.errors import DataError, agree, plural, preview
from alcli.pool import row_chunks

#: An id list names at most the pool: a few hundred megabytes would be a wrong file.
MAX_ID_LIST_BYTES = 200_000_000
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


def read_table(path: Path, cfg: DataConfig) -> Table:
    """Read a CSV, Parquet, NPZ or NPY file into a :class:`Table` (an NPY's features
    memory-mapped)."""
    if not path.exists():
        raise DataError(
            f"{path}: file not found (data.path / data.test_path); check the path, "
            "which is relative to the config file"
        )
    problem = file_problem(path)
    if problem:
        raise DataError(f"{path} (data.path / data.test_path): {problem}")
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv"):
        return _read_csv(path, cfg)
    if suffix in (".parquet", ".pq"):
        return _read_parquet(path, cfg)
    if suffix == ".npz":
        return _read_npz(path)
    if suffix == ".npy" and path == cfg.path:
        return _read_npy(path, cfg.labels_path)
    raise DataError(
        f"{path}: unsupported file type '{suffix}'; use a .csv, .tsv, .parquet or .npz file"
        + (" (a .npy file holds a pool's features: data.path)" if suffix == ".npy" else "")
        + (
            ' (a spreadsheet\'s "Unicode text" .txt is a CSV: rename it to .csv)'
            if suffix == ".txt"
            else ""
        )
    )


def _read_npy(path: Path, labels_path: Path | None) -> Table:
    """A pool's features from an NPY file, memory-mapped (never read whole), and its labels
    from ``labels_path`` (an NPY of one label per row; without one, none is known)."""
    try:
        X = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot be read as NPY (a 2-D array of features): {exc}") from None
    if X.ndim != 2 or X.shape[1] == 0:
        raise DataError(f"{path}: an NPY pool must be a 2-D array of features; got shape {X.shape}")
    if not (np.issubdtype(X.dtype, np.integer) or np.issubdtype(X.dtype, np.floating)):
        raise DataError(f"{path}: the features must be real numbers; got dtype {X.dtype}")
    if not X.flags.c_contiguous:
        raise DataError(
            f"{path}: the array is stored in Fortran order; save it in C order "
            "(np.save(path, np.ascontiguousarray(X))) so that rows can be read one chunk at a time"
        )
    names = [f"x{i}" for i in range(X.shape[1])]
    _refuse_infinite(X, path, names)
    if labels_path is None:
        labels = np.zeros(X.shape[0], dtype=np.int64)
        return Table(X, labels, np.zeros(X.shape[0], dtype=bool), np.arange(X.shape[0]), names)
    try:
        y = np.load(labels_path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise DataError(f"{labels_path}: cannot be read as NPY (data.labels_path): {exc}") from None
    if y.shape != (X.shape[0],):
        raise DataError(
            f"{labels_path}: data.labels_path needs one label per row of {path} "
            f"({X.shape[0]}); got shape {y.shape}"
        )
    labels, has_label = _labels_of(y, labels_path)
    return Table(X, labels, has_label, np.arange(X.shape[0]), names)


def refuse_unlabeled(table: Table, where: str, what: str, target: str) -> None:
    """Raise naming the records of ``table`` without a target: ``what`` must be labeled."""
    missing = table.ids[~table.has_label]
    if missing.size:
        raise DataError(
            f"{where}: {what} must be labeled, but "
            f"{plural(missing.size, 'record')} {agree(missing.size, 'lacks', 'lack')} a "
            f"{target} (ids {preview(missing)}); fill them or drop those rows"
        )


def read_id_list(path: Path) -> list[str]:
    """One record id per line; blank lines are skipped."""
    problem = file_problem(path, MAX_ID_LIST_BYTES)
    if problem:
        raise DataError(f"{path} (init.path): {problem}")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DataError(
            f"{path}: file not found (init.path); give a file with one record id per line"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot be read (init.path): {exc}") from None
    return [line.strip() for line in text.splitlines() if line.strip()]


def read_sklearn(name: str) -> Table:
    from sklearn import datasets

    X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    return Table(
        X,
        y,
        np.ones(y.shape[0], dtype=bool),
        np.arange(y.shape[0]),
        [f"x{i}" for i in range(X.shape[1])],
    )


# --- CSV and Parquet: files of named columns ---------------------------------------------------
#
# Both readers yield the same intermediate, :class:`Cells` (the header, and each column's
# values as the file holds them); one conversion turns it into a Table, so whatever the
# conversion learns to read (a kind of column, a way of writing numbers) both formats read.


def _read_csv(path: Path, cfg: DataConfig) -> Table:
    return _table(_csv_cells(path), cfg, path)


def _csv_cells(path: Path) -> Cells:
    """A CSV's header and rows of text, in whichever dialect a spreadsheet wrote it."""
    dialect = detect_dialect(path)
    try:
        with dialect.records(path) as records:
            numbered = list(records)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{path}: cannot be read as CSV: {exc}") from None
    if not numbered:
        raise DataError(f"{path}: the file is empty; a CSV needs a header row and records")
    header = numbered[0][1]
    lines = [line for line, _ in numbered[1:]]
    body = [row for _, row in numbered[1:]]
    for line_no, row in zip(lines, body, strict=True):
        if len(row) != len(header):
            raise DataError(
                f"{path}, line {line_no}: {len(row)} fields where the header has "
                f"{len(header)}; every row needs one value per column"
            )
    return Cells(
        header,
        len(body),
        lambda j: [row[j] for row in body],
        lambda i: f"line {lines[i]}",
    )


def _read_parquet(path: Path, cfg: DataConfig) -> Table:
    with parquet_cells(path) as cells:
        return _table(cells, cfg, path)


def _table(cells: Cells, cfg: DataConfig, path: Path) -> Table:
    """Features, labels and ids from a file's columns, as data.target, data.id and
    data.features name them."""
    header = [name.strip() for name in cells.header]
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated or "" in header:
        problem = (
            f"repeated column names: {', '.join(repeated)}" if repeated else "a column with no name"
        )
        raise DataError(f"{path}: the header row has {problem}; give every column its own name")
    if not cells.n_records:
        raise DataError(f"{path}: the file has a header but no records")
    if cfg.target not in header:
        raise DataError(
            f"{path}: no '{cfg.target}' column (data.target). Columns: {', '.join(header)}. "
            "Set data.target to the column that holds the class label"
        )
    target_col = header.index(cfg.target)
    id_col = id_column(header, cfg.id)
    if id_col is None and isinstance(cfg.id, str):
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
        # data.id: false leaves a column named id out too: a model would learn from ids.
        left_out = {cfg.target, "id" if cfg.id is False else None}
        if id_col is not None:
            left_out.add(header[id_col])
        feature_names = [h for h in header if h not in left_out]
    if not feature_names:
        raise DataError(f"{path}: no feature columns besides '{cfg.target}'")
    X = np.empty((cells.n_records, len(feature_names)), dtype=np.float64)
    refused = []  # (record, feature, message): the first in file order is reported
    for j, name in enumerate(feature_names):
        values = cells.column(header.index(name))
        try:
            X[:, j] = (
                values.astype(np.float64)
                if isinstance(values, np.ndarray)
                else parse_numbers(values)
            )
        except NotNumber as exc:
            refused.append((exc.record, j, exc.message))
    mistyped = [
        r for r in refused if _mostly_numbers(cells.column(header.index(feature_names[r[1]])))
    ]
    if mistyped and cfg.preprocessing is None:
        # Numbers with a few odd cells (or in an ambiguous format) are a data problem, not a
        # text column: said, rather than silently turned into categories.
        record, j, message = min(mistyped)
        raise DataError(
            f"{path}, {cells.where(record)}, column '{feature_names[j]}': {message} (if the "
            f"column is not numbers, declare its kind: data.preprocess: {{columns: "
            f"{{{feature_names[j]}: text}}}})"
        )
    if cfg.preprocessing is not None or (refused and cfg.preprocess == "auto"):
        # Columns of other kinds: kept as text, turned into features by kind once the pool
        # is known (data/preprocessing.py); numbers as their shortest text.
        X = _raw_cells(cells, header, feature_names, X, {j for _, j, _ in refused})
    elif refused:
        record, j, message = min(refused)
        hint = " (or set data.preprocess: auto to turn it into features by kind)"
        raise DataError(
            f"{path}, {cells.where(record)}, column '{feature_names[j]}': {message}{hint}"
        )
    else:
        _refuse_infinite(X, path, feature_names, where=cells.where)
    labels, has_label = _labels_of_column(cells.column(target_col), path, cfg.target)
    if id_col is None:
        ids = np.arange(cells.n_records)
    else:
        ids = _ids_of_column(cells.column(id_col))
        _check_ids(ids, path, "; or set data.id: false to number the rows instead")
    return Table(X, labels, has_label, ids, feature_names)


_NUMBERISH = re.compile(r"^[+-]?[\d.,' ]*\d[\d.,' ]*([eE][+-]?\d+)?$")
#: A column this much made of numbers is numbers with mistakes, not text.
MOSTLY = 0.9


def _mostly_numbers(values: Column) -> bool:
    if isinstance(values, np.ndarray):
        return True
    present = [v.strip() for v in values if v.strip()]
    numeric = sum(bool(_NUMBERISH.match(v)) for v in present)
    return bool(present) and numeric >= MOSTLY * len(present)


def _raw_cells(
    cells: Cells, header: list[str], names: list[str], numbers: np.ndarray, text: set[int]
) -> np.ndarray:
    """The feature columns as text: ``text`` columns as the file has them (trimmed), the
    others as the numbers read from them ("" where missing)."""
    raw = np.empty(numbers.shape, dtype=object)
    for j, name in enumerate(names):
        if j in text:
            raw[:, j] = [str(v).strip() for v in cells.column(header.index(name))]
        else:
            raw[:, j] = [repr(v) if v == v else "" for v in numbers[:, j].tolist()]
    return raw.astype(str)


def id_column(header: list[str], id_setting: str | bool | None) -> int | None:
    """Where the record ids are: data.id's column; by default a column named ``id`` if there
    is one; none when data.id is false (nor when data.id names a column ``header`` lacks)."""
    if id_setting is False:
        return None
    name = id_setting if isinstance(id_setting, str) else "id"
    return header.index(name) if name in header else None


def _labels_of_column(values: Column, path: Path, name: str) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(values, np.ndarray):
        return _labels_of(values, path, f"column '{name}'")
    return _parse_labels(np.array([cell.strip() for cell in values]))


def _ids_of_column(values: Column) -> np.ndarray:
    if isinstance(values, np.ndarray):
        # Parquet numbers: 12 and 12.0 are "12", as in a CSV; NaN (null) is an empty id.
        return np.array(
            [
                "" if v != v else str(int(v)) if float(v).is_integer() else repr(float(v))
                for v in values.tolist()
            ],
            dtype=str,
        )
    return np.array([cell.strip() for cell in values], dtype=str)


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
    _refuse_infinite(X, path, [f"x{i}" for i in range(X.shape[1])])
    if "ids" in arrays:
        ids = arrays["ids"].astype(str)
        if ids.shape != y.shape:
            raise DataError(f"{path}: ids has shape {ids.shape}; it needs one id per row of X")
        _check_ids(ids, path)
    else:
        ids = np.arange(y.shape[0])
    labels, has_label = _labels_of(y, path)
    return Table(X, labels, has_label, ids, [f"x{i}" for i in range(X.shape[1])])


def _labels_of(y: np.ndarray, path: Path, what: str = "y") -> tuple[np.ndarray, np.ndarray]:
    """Class labels and which rows have one, from an array of labels (NaN: none); ``what``
    names the array in a message."""
    if np.issubdtype(y.dtype, np.integer):
        return y, np.ones(y.shape[0], dtype=bool)
    if np.issubdtype(y.dtype, np.floating):
        has_label = ~np.isnan(y)
        if not (y[has_label] == np.round(y[has_label])).all():
            example = y[has_label][y[has_label] != np.round(y[has_label])][0]
            raise DataError(
                f"{path}: {what} holds numbers that are not whole (e.g. {example}), which look "
                "like a regression target; alcli needs class labels (integers or strings)"
            )
        return np.where(has_label, y, 0).astype(np.int64), has_label
    return _parse_labels(np.char.strip(y.astype(str)))


def rows_where(X: np.ndarray, test, chunk_rows: int = 65536) -> np.ndarray:
    """Indices of the rows of X where ``test`` (elementwise, e.g. np.isnan) holds anywhere.

    Scans in chunks of rows, so the boolean temporary stays small on a large pool.
    """
    if not np.issubdtype(X.dtype, np.floating):
        return np.empty(0, dtype=np.int64)
    if sp.issparse(X):  # only the stored values can be NaN or infinite
        X = X.tocsr()
        rows = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
        return np.unique(rows[test(X.data)])
    hits = [
        start + np.flatnonzero(test(block).any(axis=1))
        for start, block in row_chunks(X, chunk_rows)
    ]
    return np.concatenate(hits) if hits else np.empty(0, dtype=np.int64)


def _refuse_infinite(
    X: np.ndarray, path: Path, names: list[str], where: Callable[[int], str] | None = None
) -> None:
    """No model fits on inf (a CSV's 'inf' or 1e400 parses as a float). ``where(row)`` names
    a row in the message (default: ``row 12``)."""
    rows = rows_where(X, np.isinf)
    if rows.size == 0:
        return
    row = int(rows[0])
    col = int(np.flatnonzero(np.isinf(X[row]))[0])
    at = where(row) if where else f"row {row}"
    raise DataError(
        f"{path}, {at}, column '{names[col]}': the value is infinite; features must be finite "
        "numbers (use an empty cell for a missing value)"
    )


def _check_ids(ids: np.ndarray, path: Path, fix: str = "") -> None:
    if (ids == "").any():
        raise DataError(
            f"{path}: record {int(np.flatnonzero(ids == '')[0]) + 1} has an empty id; "
            f"every record needs an id{fix}"
        )
    unique, counts = np.unique(ids, return_counts=True)
    if (counts > 1).any():
        raise DataError(f"{path}: ids must be unique; repeated: {preview(unique[counts > 1])}{fix}")


def _parse_labels(text: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Labels read as text: integers when every non-empty one is ("0", "1" are classes 0, 1)."""
    has_label = text != ""
    present = np.unique(text[has_label])
    # "0", "1" are the classes 0 and 1; "01" stays text, so it never merges with "1".
    if all(_INT_LABEL.match(v) and str(int(v)) == v for v in present.tolist()):
        return np.where(has_label, text, "0").astype(np.int64), has_label
    return text, has_label

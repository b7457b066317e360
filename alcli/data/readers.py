"""Read records from a bundled dataset, a CSV or an NPZ file into a :class:`Table`."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from alcli.atomic import file_problem
from alcli.data.config import DataConfig
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
    """Read a CSV, NPZ or NPY file into a :class:`Table` (an NPY's features memory-mapped)."""
    if not path.exists():
        raise DataError(
            f"{path}: file not found (data.path / data.test_path); check the path, "
            "which is relative to the config file"
        )
    problem = file_problem(path)
    if problem:
        raise DataError(f"{path} (data.path / data.test_path): {problem}")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _read_csv(path, cfg)
    if suffix == ".npz":
        return _read_npz(path)
    if suffix == ".npy" and path == cfg.path:
        return _read_npy(path, cfg.labels_path)
    raise DataError(
        f"{path}: unsupported file type '{suffix}'; use a .csv or .npz file"
        + (" (a .npy file holds a pool's features: data.path)" if suffix == ".npy" else "")
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
    _refuse_infinite(X, path, names, first_line=None)
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
    labels, has_label = _labels_of(y, path)
    return Table(X, labels, has_label, ids, [f"x{i}" for i in range(X.shape[1])])


def _labels_of(y: np.ndarray, path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Class labels and which rows have one, from an array of labels (NaN: none)."""
    if np.issubdtype(y.dtype, np.integer):
        return y, np.ones(y.shape[0], dtype=bool)
    if np.issubdtype(y.dtype, np.floating):
        has_label = ~np.isnan(y)
        if not (y[has_label] == np.round(y[has_label])).all():
            example = y[has_label][y[has_label] != np.round(y[has_label])][0]
            raise DataError(
                f"{path}: y holds numbers that are not whole (e.g. {example}), which look like a "
                "regression target; alcli needs class labels (integers or strings)"
            )
        return np.where(has_label, y, 0).astype(np.int64), has_label
    return _parse_labels(np.char.strip(y.astype(str)))


def rows_where(X: np.ndarray, test, chunk_rows: int = 65536) -> np.ndarray:
    """Indices of the rows of X where ``test`` (elementwise, e.g. np.isnan) holds anywhere.

    Scans in chunks of rows, so the boolean temporary stays small on a large pool.
    """
    if not np.issubdtype(X.dtype, np.floating):
        return np.empty(0, dtype=np.int64)
    hits = [
        start + np.flatnonzero(test(block).any(axis=1))
        for start, block in row_chunks(X, chunk_rows)
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


def _first_non_numeric(cells: np.ndarray) -> tuple[int, int, str]:
    for r, row in enumerate(cells):
        for c, cell in enumerate(row):
            try:
                float(cell)
            except ValueError:
                return r, c, str(cell)
    return 0, 0, ""

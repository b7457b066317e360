"""Records as a person reads them: the fields of pool records as they are in the data file."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from alcli.data.config import DataConfig
from alcli.data.csv_dialects import CsvDialect, detect_dialect
from alcli.data.dataset import Dataset
from alcli.data.readers import id_column
from alcli.errors import DataError, plural, preview


class RecordSource:
    """The fields of pool records, for labelers that show records to people.

    A CSV is streamed again on each call and only the requested rows are kept (memory
    O(requested), never the whole file); its cells are returned as written, unparsed. For a
    bundled dataset or an NPZ the features are all there is: each is its shortest text
    (``repr(float)``; a float32 value as float32, "0.1" rather than "0.10000000149011612").

    Parameters
    ----------
    data_cfg : DataConfig
        How the data was read (path, id column).
    data : Dataset
        The loaded pool: its ``ids`` say which row of the file each pool index is.
    """

    def __init__(self, data_cfg: DataConfig, data: Dataset):
        self.data_cfg = data_cfg
        self.data = data
        self._dialect: CsvDialect | None = None

    @property
    def is_csv(self) -> bool:
        path = self.data_cfg.path
        return path is not None and path.suffix.lower() in (".csv", ".tsv")

    @property
    def own_columns(self) -> tuple[str, ...]:
        """The data's target and id columns: a person is not shown the target, and the id is
        shown apart from the fields."""
        if not self.is_csv:
            return ()
        if self.data_cfg.id is False:  # a column named id is then data like any other
            return (self.data_cfg.target,)
        return (self.data_cfg.target, self.data_cfg.id or "id")

    def header(self) -> list[str]:
        """The column names (a CSV's header row, names trimmed as the data reader trims them)."""
        if not self.is_csv:
            return list(self.data.feature_names)
        return self._read_csv(np.empty(0, dtype=np.int64))[0]

    def fields(self, indices: np.ndarray) -> tuple[list[str], list[list[str]]]:
        """The header and the fields of the records at pool ``indices``.

        Parameters
        ----------
        indices : array of int, shape (n,)
            Pool indices, in the order wanted (a repeated index gives its row twice).

        Returns
        -------
        header : list of str, length n_columns
        rows : list of n lists of str, each of length n_columns
            One row per index, in the order of ``indices``.

        Raises
        ------
        DataError
            The file cannot be read, or lacks a requested record (it changed since the run
            started).
        """
        indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        if self.is_csv:
            return self._read_csv(indices)
        values = self.data.X[indices]
        # str of a float32 is its shortest text ("0.1", where repr(float) gives
        # 0.10000000149011612); for float64 it is repr(float).
        text = str if np.issubdtype(values.dtype, np.floating) else lambda v: repr(float(v))
        rows = [[text(v) for v in row] for row in values]
        return list(self.data.feature_names), rows

    def column(self, name: str, indices: np.ndarray) -> list[str]:
        """One column's cells for the records at pool ``indices``, shape (n,).

        Raises
        ------
        DataError
            Naming the column and the ones there are, if the data has no column ``name``.
        """
        header = self.header()
        if name not in header:
            raise DataError(
                f"{self._where()}: no column '{name}' to show (labeler.text_column). Columns: "
                f"{', '.join(header)}. Set labeler.text_column to one of them"
            )
        header, rows = self.fields(indices)
        at = header.index(name)
        return [row[at] for row in rows]

    def _where(self) -> str:
        return str(self.data_cfg.path or self.data_cfg.source)

    def _read_csv(self, indices: np.ndarray) -> tuple[list[str], list[list[str]]]:
        path: Path = self.data_cfg.path
        # Pool ids are the id column's trimmed text, or the row's number among the records
        # (0 = the first row after the header) when there is no id column; the pool keeps
        # those numbers when test rows are held out, so they always name a row of this file.
        wanted: dict[object, list[int]] = {}
        for position, key in enumerate(self.data.ids[indices].tolist()):
            wanted.setdefault(key, []).append(position)
        rows: list[list[str] | None] = [None] * indices.shape[0]
        if self._dialect is None:
            self._dialect = detect_dialect(path)
        try:
            # As alcli.data reads it: in the dialect a spreadsheet wrote it, newlines inside
            # quotes kept.
            with self._dialect.records(path) as records:
                first = next(records, None)
                if first is None:
                    raise DataError(f"{path}: the file is empty; it changed since the run started")
                header = [name.strip() for name in first[1]]
                id_col = id_column(header, self.data_cfg.id)
                left = len(wanted)
                for number, (_, row) in enumerate(records):
                    if not left:
                        break  # every requested row found: no need to read the rest
                    if id_col is None:
                        key: object = number
                    elif id_col < len(row):
                        key = row[id_col].strip()
                    else:
                        continue
                    positions = wanted.get(key)
                    if positions is None:
                        continue
                    cells = (row + [""] * len(header))[: len(header)]
                    for position in positions:
                        rows[position] = list(cells)
                    del wanted[key]
                    left -= 1
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise DataError(f"{path}: cannot be read as CSV: {exc}") from None
        if wanted:
            missing = list(wanted)
            raise DataError(
                f"{path}: {plural(len(missing), 'record')} of the pool "
                f"({'row numbers' if id_col is None else 'ids'} {preview(missing)}) "
                "cannot be found in the file: it changed since the run started. Put back the "
                "file the run was started with"
            )
        return header, rows  # type: ignore[return-value]

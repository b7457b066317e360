"""Parquet files, read with pyarrow (the ``parquet`` extra) into the same :class:`Cells` as a
CSV: numbers stay numbers, anything else becomes text."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path

from alcli.data.cells import Cells, Column
from alcli.errors import DataError


@contextlib.contextmanager
def parquet_cells(path: Path) -> Iterator[Cells]:
    """A Parquet file's columns, each read (with pyarrow) only when the conversion asks for it;
    the file is open for the block."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise DataError(
            f"{path}: reading Parquet needs pyarrow, which is not installed; install it with "
            "pip install 'alcli[parquet]'"
        ) from None
    with path.open("rb") as handle:
        head = handle.read(4)
        handle.seek(max(path.stat().st_size - 4, 0))
        tail = handle.read(4)
    if head != b"PAR1" or tail != b"PAR1":
        raise DataError(
            f"{path}: is not a Parquet file (it lacks Parquet's 'PAR1' marks); write it with "
            "pandas' DataFrame.to_parquet or pyarrow.parquet.write_table, or give a CSV"
        )
    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"{path}: cannot be read as Parquet: {_one_line(exc)}") from None
    try:
        # pandas stores an unnamed index as __index_level_0__: row numbers, not data.
        header = [n for n in parquet.schema_arrow.names if not _PANDAS_INDEX.match(n)]

        def column(j: int) -> Column:
            try:
                values = parquet.read(columns=[header[j]]).column(0)
            except (pa.ArrowException, OSError) as exc:
                raise DataError(
                    f"{path}: column '{header[j]}' cannot be read as Parquet: {_one_line(exc)}"
                ) from None
            return _arrow_column(values, header[j], path, pa)

        yield Cells(header, parquet.metadata.num_rows, column, lambda i: f"row {i}")
    finally:
        parquet.close()


_PANDAS_INDEX = re.compile(r"^__index_level_\d+__$")


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split()).rstrip(".") + " (the file may be damaged or cut short)"


def _arrow_column(values, name: str, path: Path, pa) -> Column:
    """A Parquet column as the conversion takes it: numbers as an array (NaN for null, integers
    kept when none is null), anything else as text ("" for null; dates in ISO form)."""
    kind = values.type
    if pa.types.is_dictionary(kind):
        values, kind = values.cast(kind.value_type), kind.value_type
    if pa.types.is_boolean(kind):  # false and true are 0 and 1, as numpy has them
        values, kind = values.cast(pa.int64()), pa.int64()
    if pa.types.is_integer(kind) and values.null_count == 0:
        return values.to_numpy()
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return values.cast(pa.float64()).to_numpy(zero_copy_only=False)
    if pa.types.is_null(kind):
        return [""] * len(values)
    try:
        text = values if pa.types.is_string(kind) else values.cast(pa.string())
    except pa.ArrowException:  # ArrowNotImplementedError (no cast to text) is one too
        raise DataError(
            f"{path}: column '{name}' holds {kind} values, which alcli cannot read; leave it out "
            "of data.features"
        ) from None
    return ["" if v is None else v for v in text.to_pylist()]

"""RecordSource: pool records' fields as they are in the data file, for people to read."""

from __future__ import annotations

import numpy as np
import pytest

from alcli.data import DataConfig, RecordSource, load_dataset
from alcli.errors import DataError
from tests.conftest import write_csv

# Cells a spreadsheet writes and a person must see unchanged: spaces, a comma, a quote,
# a line break inside a field, non-ASCII text, an empty target (unlabeled).
ROWS = [
    [f"r{i:02d}", f" {i * 0.5:.2f}", f"{(i * 3) % 11}", f'café, "n°{i}"\nline 2', label]
    for i, label in enumerate(["a", "b", "", "a", "", "b", "a", "b", "", "a", "b", "a"])
]
HEADER = ["id", "weight", "size", "note", "target"]


def spreadsheet_csv(path, header, rows):
    """As Excel saves a CSV UTF-8: a byte-order mark, CRLF, every field quoted."""
    return write_csv(path, header, rows, encoding="utf-8-sig", lineterminator="\r\n", quoting=1)


def source(cfg: DataConfig, seed: int = 0) -> RecordSource:
    return RecordSource(cfg, load_dataset(cfg, seed))


def test_csv_with_an_id_column_gives_raw_cells_in_the_requested_order(tmp_path):
    path = spreadsheet_csv(tmp_path / "data.csv", HEADER, ROWS)
    test = spreadsheet_csv(
        tmp_path / "test.csv", HEADER, [["t1", "1", "2", "x", "a"], ["t2", "3", "4", "y", "b"]]
    )
    records = source(DataConfig(path=path, test_path=test, features=["weight", "size"]))
    ids = records.data.ids
    order = np.array([7, 2, 0, 7])  # any order, a repeat
    header, rows = records.fields(order)
    assert header == HEADER
    by_id = {row[0]: row for row in ROWS}
    assert rows == [by_id[ids[i]] for i in order]
    assert rows[1][1].startswith(" "), "cells are not trimmed or parsed"
    assert "\nline 2" in rows[1][3] and "café" in rows[1][3]
    assert records.own_columns == ("target", "id")
    assert records.header() == HEADER


def test_csv_without_an_id_column_matches_row_numbers_after_a_held_out_split(tmp_path):
    rows = [r[1:] for r in ROWS] * 3  # 36 rows, no id column
    path = spreadsheet_csv(tmp_path / "data.csv", HEADER[1:], rows)
    records = source(DataConfig(path=path, test_size=0.25, features=["weight", "size"]))
    ids = records.data.ids
    assert ids.dtype.kind == "i"
    assert ids.shape[0] < len(rows), "test rows are held out of the pool"
    order = np.arange(ids.shape[0])[::-1]
    header, got = records.fields(order)
    assert header == HEADER[1:]
    assert got == [rows[ids[i]] for i in order], "pool ids are the file's row numbers"


def test_csv_without_an_id_column_and_a_test_file(tmp_path):
    rows = [r[1:] for r in ROWS]
    path = write_csv(tmp_path / "data.csv", HEADER[1:], rows)
    test = write_csv(
        tmp_path / "test.csv", HEADER[1:], [["1", "2", "x", "a"], ["3", "4", "y", "b"]]
    )
    records = source(DataConfig(path=path, test_path=test, features=["weight", "size"]))
    np.testing.assert_array_equal(records.data.ids, np.arange(len(rows)))
    assert records.fields(np.array([4, 1]))[1] == [rows[4], rows[1]]
    assert records.column("note", np.array([4, 1])) == [rows[4][2], rows[1][2]]


def test_a_named_id_column_and_an_empty_request(tmp_path):
    header = ["key", "x", "label"]
    rows = [[f"k{i}", str(i), "ab"[i % 2]] for i in range(20)]
    path = write_csv(tmp_path / "data.csv", header, rows)
    records = source(DataConfig(path=path, id="key", target="label"))
    assert records.own_columns == ("label", "key")
    assert records.fields(np.array([], dtype=np.int64)) == (header, [])
    row = int(records.data.ids[3].removeprefix("k"))
    assert records.fields(np.array([3]))[1] == [rows[row]]


def test_column_names_the_available_columns_when_absent(tmp_path):
    path = write_csv(tmp_path / "data.csv", HEADER, ROWS)
    records = source(DataConfig(path=path, test_size=0.3, features=["weight"]))
    assert records.column("size", np.array([0])) == [
        next(r[2] for r in ROWS if r[0] == records.data.ids[0])
    ]
    with pytest.raises(DataError, match=r"no column 'text'.*id, weight, size, note, target"):
        records.column("text", np.array([0]))


def test_a_changed_file_is_refused_by_id(tmp_path):
    path = write_csv(tmp_path / "data.csv", HEADER, ROWS)
    records = source(DataConfig(path=path, test_size=0.3, features=["weight"]))
    wanted = records.data.ids[0]
    write_csv(path, HEADER, [r for r in ROWS if r[0] != wanted])
    with pytest.raises(DataError, match=rf"ids {wanted}\).*changed since the run started"):
        records.fields(np.array([0, 1]))


def test_npz_and_bundled_data_show_their_features(tmp_path):
    X = np.array([[0.1, -1.5], [2.0, 1e20], [np.nan, 3.25]], dtype=np.float32)
    np.savez(tmp_path / "d.npz", X=X, y=np.array([0, 1, 0]))
    npz = RecordSource(
        DataConfig(path=tmp_path / "d.npz"),
        load_dataset(DataConfig(path=tmp_path / "d.npz", test_path=tmp_path / "d.npz"), 0),
    )
    assert npz.own_columns == ()
    header, rows = npz.fields(np.array([2, 0, 1]))
    assert header == ["x0", "x1"]
    assert rows == [["nan", "3.25"], ["0.1", "-1.5"], ["2.0", "1e+20"]]
    assert npz.column("x1", np.array([1])) == ["1e+20"]

    cfg = DataConfig(source="sklearn:iris")
    iris = RecordSource(cfg, load_dataset(cfg, 0))
    header, rows = iris.fields(np.array([3]))
    assert header == ["x0", "x1", "x2", "x3"]
    assert rows == [[repr(float(v)) for v in iris.data.X[3]]]
    with pytest.raises(DataError, match=r"sklearn:iris: no column 'text'.*x0, x1, x2, x3"):
        iris.column("text", np.array([3]))
